/* The add and edit forms (themes/default/templates/form.pt). Everything here is a convenience:
 * the forms work without it (the server checks every field, the error summary is on the page, a
 * file's title defaults to its name, the order is a number field).
 *
 * - After a refused submission the error summary gets the focus (and the page scrolls to it); its
 *   links move the focus into the field they name.
 * - Help texts and errors are tied to their inputs (aria-describedby, aria-invalid).
 * - Leaving a form with unsaved changes asks first (beforeunload); saving or cancelling does not.
 * - File lists (portal.uploads.FileListWidget): a title field for every file just chosen, a
 *   warning for a file over the size limit before it is sent, up/down buttons for the order.
 * Loaded as a file of our origin: the Content-Security-Policy allows no inline script without the
 * page's nonce, and no inline event handlers at all.
 */
(function () {
  'use strict';

  function focusInside(item) {
    var editor = item.querySelector('textarea');
    if (editor && window.tinymce && window.tinymce.get(editor.id)) {
      window.tinymce.get(editor.id).focus();
      return;
    }
    var target = item.querySelector('input:not([type=hidden]), select, textarea, button');
    if (target) { target.focus(); }
  }

  function errorSummary(form) {
    var summary = form.querySelector('.error-summary');
    if (!summary) { return; }
    summary.focus();
    summary.scrollIntoView({block: 'start'});
    summary.addEventListener('click', function (event) {
      var link = event.target.closest('a[href^="#"]');
      if (!link) { return; }
      var item = document.getElementById(link.getAttribute('href').slice(1));
      if (!item) { return; }
      event.preventDefault();
      item.scrollIntoView({block: 'center'});
      focusInside(item);
    });
  }

  function describe(form) {
    form.querySelectorAll('[id^="item-"]').forEach(function (item) {
      var notes = Array.prototype.map.call(
        item.querySelectorAll(':scope > .form-text, :scope > .invalid-feedback'), function (n) { return n.id; }
      ).filter(Boolean);
      var invalid = item.classList.contains('has-error');
      item.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(function (input) {
        if (input.closest('.file-list') && input.type !== 'file') { return; }
        var own = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
        var ids = own.concat(notes.filter(function (id) { return own.indexOf(id) < 0; }));
        if (ids.length) { input.setAttribute('aria-describedby', ids.join(' ')); }
        if (invalid) { input.setAttribute('aria-invalid', 'true'); }
      });
    });
  }

  function unsavedWarning(form) {
    // A re-shown form (refused, or a conflict) holds what was typed but not saved.
    var dirty = !!document.querySelector('.error-summary, .conflict');
    var leaving = false;
    function mark() { dirty = true; }
    form.addEventListener('input', mark);
    form.addEventListener('change', mark);
    form.addEventListener('submit', function () { leaving = true; });
    // The rich-text editors: deform copies their content into the textarea on every change, which
    // clears TinyMCE's own dirty flag, so their events are watched instead.
    if (window.tinymce) {
      var watch = function (editor) { editor.on('input change Undo Redo', mark); };
      window.tinymce.get().forEach(watch);
      window.tinymce.on('AddEditor', function (event) { watch(event.editor); });
    }
    window.addEventListener('beforeunload', function (event) {
      if (dirty && !leaving) {
        event.preventDefault();
        event.returnValue = '';  // older browsers need a value to ask
        return '';
      }
    });
  }

  function humanSize(bytes) {
    var units = ['B', 'KB', 'MB', 'GB'];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return i === 0 ? bytes + ' B' : bytes.toFixed(1) + ' ' + units[i];
  }

  function stem(name) {
    var dot = name.lastIndexOf('.');
    return dot > 0 ? name.slice(0, dot) : name;
  }

  function fileList(list) {
    var input = list.querySelector('input[type=file]');
    var target = list.querySelector('.file-new');
    var limit = parseInt(list.getAttribute('data-limit'), 10) || 0;
    var text = list.dataset;
    var none = list.querySelector('.file-none');
    input.addEventListener('change', function () {
      target.textContent = '';
      if (none) { none.hidden = input.files.length > 0; }
      if (!input.files.length) { return; }
      var heading = document.createElement('p');
      heading.className = 'file-new-title';
      heading.textContent = text.msgChosen;
      target.appendChild(heading);
      var rows = document.createElement('ol');
      rows.className = 'file-rows file-rows-new';
      Array.prototype.forEach.call(input.files, function (file, n) {
        var row = document.createElement('li');
        row.className = 'file-row';
        var label = document.createElement('label');
        label.className = 'file-title';
        var caption = document.createElement('span');
        caption.textContent = text.msgTitle;
        var hidden = document.createElement('span');
        hidden.className = 'sr';
        hidden.textContent = file.name;
        var title = document.createElement('input');
        title.type = 'text';
        title.name = 'title';
        title.maxLength = 200;
        title.value = stem(file.name);
        label.append(caption, hidden, title);
        var name = document.createElement('span');
        name.className = 'file-name';
        name.textContent = file.name + ' ';
        var size = document.createElement('span');
        size.className = 'meta';
        size.textContent = humanSize(file.size);
        name.appendChild(size);
        row.append(label, name);
        if (limit && file.size > limit) {
          row.classList.add('file-refused');
          var warning = document.createElement('p');
          warning.className = 'invalid-feedback';
          warning.textContent = text.msgTooLarge.replace('{name}', file.name);
          row.appendChild(warning);
        }
        rows.appendChild(row);
      });
      target.appendChild(rows);
    });

    // Up and down buttons: they move a row and renumber the order fields, which the server reads.
    var current = list.querySelector('.file-rows');
    if (!current) { return; }
    function renumber() {
      current.querySelectorAll('input[name=order]').forEach(function (field, n) { field.value = n + 1; });
    }
    current.querySelectorAll('.file-row').forEach(function (row) {
      if (!row.querySelector('input[name=order]')) { return; }
      var name = row.querySelector('.file-name').firstChild.textContent.trim();
      var buttons = document.createElement('span');
      buttons.className = 'file-move';
      [['up', text.msgUp, '↑'], ['down', text.msgDown, '↓']].forEach(function (spec) {
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'file-move-' + spec[0];
        button.textContent = spec[2];
        button.setAttribute('aria-label', spec[1] + ' ' + name);
        button.title = spec[1];
        button.addEventListener('click', function () {
          var sibling = spec[0] === 'up' ? row.previousElementSibling : row.nextElementSibling;
          if (!sibling || !sibling.querySelector('input[name=order]')) { return; }
          current.insertBefore(row, spec[0] === 'up' ? sibling : sibling.nextElementSibling);
          renumber();
          row.querySelector('.file-move-' + spec[0]).focus();
          list.closest('form').dispatchEvent(new Event('change'));
        });
        buttons.appendChild(button);
      });
      row.querySelector('.file-order').after(buttons);
    });
  }

  function start() {
    var form = document.getElementById('content-form');
    if (!form) { return; }
    describe(form);
    form.querySelectorAll('.file-list').forEach(fileList);
    unsavedWarning(form);
    errorSummary(form);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
