/* Optional: the print button of item pages (hidden without JavaScript; the print style works without it). */
document.querySelectorAll(".print-page").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
