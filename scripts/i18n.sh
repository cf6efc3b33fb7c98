#!/usr/bin/env bash
# Refresh the portal's translation catalogs (see portal/i18n.py).
#
#   1. extract every message of the "portal" domain from portal/, content_types/, catalog/, search/ and themes/
#      (Python `_()` calls and Chameleon `i18n:translate` / `i18n:attributes`) into portal/locale/portal.pot;
#   2. merge it into each language's portal.po (today only zh_CN): new messages come in empty (or
#      fuzzy, with msgmerge's guess), messages gone from the code become obsolete (#~);
#   3. keep our zh_CN copies of colander's and deform's messages (colander.po: colander ships zh_Hans
#      only; deform.po: deform's zh_CN has gaps) in step with the installed packages' .pot files;
#   4. compile every .po under portal/locale into the .mo that Pyramid loads, after checking that
#      no translation lost or invented a ${placeholder}.
#
# Run from anywhere (`make i18n` does); it works from the repository root with the venv's tools
# (lingua and Babel: `pip install -e '.[dev]'`). GNU gettext (msgmerge, msgfmt) is used when present.
# Afterwards translate what is new: every entry of portal.po must have a msgstr and no `fuzzy` flag;
# the script lists what is left to do.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
BIN="$VENV/bin"
LOCALE_DIR=portal/locale
DOMAIN=portal
POT="$LOCALE_DIR/$DOMAIN.pot"
LANGUAGES=(zh_CN)
SOURCES=(portal content_types catalog themes search)

for tool in python pot-create; do
    if [[ ! -x "$BIN/$tool" ]]; then
        echo "i18n.sh: $BIN/$tool is missing: run \`$BIN/pip install -e '.[dev]'\` (lingua, Babel)" >&2
        exit 1
    fi
done
have() { command -v "$1" >/dev/null 2>&1; }

# --- 1. extract --------------------------------------------------------------------------------
# lingua's default extractors: *.py -> python, *.pt -> chameleon. Only messages of our domain are
# kept (a template's i18n:domain, or no domain at all for Python's TranslationStringFactory `_`).
"$BIN/pot-create" --domain "$DOMAIN" --output "$POT" \
    --package-name huangmei-portal --package-version 0.1.0 \
    --copyright-holder "Huangmei County People's Government" \
    "${SOURCES[@]}"
chmod 644 "$POT"
echo "extracted $(grep -c '^msgid "' "$POT" | awk '{print $1 - 1}') messages into $POT"

# --- 2. merge into each language --------------------------------------------------------------------
merge() {  # merge PO POT: bring PO in line with the template POT
    local po="$1" pot="$2"
    if have msgmerge; then
        msgmerge --quiet --update --backup=none --previous "$po" "$pot"
    elif [[ -x "$BIN/pybabel" ]]; then
        # pybabel update wants <dir>/<locale>/LC_MESSAGES/<domain>.po: call it with the po's own path.
        "$BIN/pybabel" --quiet update --previous --width 79 --input-file "$pot" --output-file "$po" \
            --locale "$(basename "$(dirname "$(dirname "$po")")")" --ignore-pot-creation-date
    else
        echo "i18n.sh: neither msgmerge (gettext) nor pybabel (Babel) is installed" >&2
        exit 1
    fi
}

for lang in "${LANGUAGES[@]}"; do
    po="$LOCALE_DIR/$lang/LC_MESSAGES/$DOMAIN.po"
    if [[ ! -f "$po" ]]; then
        mkdir -p "$(dirname "$po")"
        if have msginit; then
            msginit --no-translator --locale="$lang.UTF-8" --input="$POT" --output-file="$po"
        else
            "$BIN/pybabel" init --domain "$DOMAIN" --input-file "$POT" --output-dir "$LOCALE_DIR" --locale "$lang"
        fi
    else
        merge "$po" "$POT"
    fi
done

# --- 3. colander's and deform's messages ---------------------------------------------------------------
# colander ships no zh_CN (only zh_Hans) and deform's zh_CN has gaps, so portal/locale keeps complete
# zh_CN copies (loaded after theirs, see portal/i18n.py); keep them in step with the installed packages.
for pkg in colander deform; do
    pkg_pot="$("$BIN/python" -c "import $pkg, os; print(os.path.join(os.path.dirname($pkg.__file__), 'locale', '$pkg.pot'))")"
    for po in "$LOCALE_DIR"/*/LC_MESSAGES/"$pkg".po; do
        if [[ -f "$po" && -f "$pkg_pot" ]]; then
            merge "$po" "$pkg_pot"
        fi
    done
done

# --- 4. check and compile --------------------------------------------------------------------------
# A translation must use exactly the ${placeholders} of its msgid; report what is left to translate.
"$BIN/python" - "$LOCALE_DIR" <<'PY'
import pathlib
import re
import sys

from babel.messages.pofile import read_po

placeholder = re.compile(r"\$\{[^}]*\}")
bad = 0
for path in sorted(pathlib.Path(sys.argv[1]).glob("*/LC_MESSAGES/*.po")):
    with path.open("rb") as f:
        catalog = read_po(f)
    todo, fuzzy = [], []
    for m in catalog:
        if not m.id:
            continue
        if not m.string:
            todo.append(m.id)
        elif m.fuzzy:
            fuzzy.append(m.id)
        elif sorted(placeholder.findall(m.id)) != sorted(placeholder.findall(m.string)):
            print(f"{path}: placeholders differ: {m.id!r} -> {m.string!r}", file=sys.stderr)
            bad += 1
    total = sum(1 for m in catalog if m.id)
    print(f"{path}: {total} messages, {len(todo)} untranslated, {len(fuzzy)} fuzzy")
    for msgid in todo:
        print(f"    untranslated: {msgid!r}")
    for msgid in fuzzy:
        print(f"    fuzzy:        {msgid!r}")
sys.exit(1 if bad else 0)
PY

for po in "$LOCALE_DIR"/*/LC_MESSAGES/*.po; do
    mo="${po%.po}.mo"
    if [[ -x "$BIN/pybabel" ]]; then
        # fuzzy entries are left out of the .mo (they show in English until reviewed)
        "$BIN/pybabel" --quiet compile --statistics --input-file "$po" --output-file "$mo"
    elif have msgfmt; then
        msgfmt --check-format --statistics --output-file="$mo" "$po"
    else
        # Python's own Tools/i18n/msgfmt.py, where this Python ships it
        msgfmt_py=""
        for candidate in "$("$BIN/python" -c 'import sys; print(sys.base_prefix)')"/{lib/python3*/Tools,Tools,share/doc/python3*/examples/Tools}/i18n/msgfmt.py \
                         /usr/share/doc/python3*/examples/Tools/i18n/msgfmt.py; do
            [[ -f "$candidate" ]] && { msgfmt_py="$candidate"; break; }
        done
        if [[ -z "$msgfmt_py" ]]; then
            echo "i18n.sh: no pybabel, msgfmt or msgfmt.py to compile $po" >&2
            exit 1
        fi
        "$BIN/python" "$msgfmt_py" -o "$mo" "$po"
    fi
done
echo "compiled: $(cd "$LOCALE_DIR" && ls -- */LC_MESSAGES/*.mo | tr '\n' ' ')"
