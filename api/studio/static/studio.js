// agnt5 Studio: the little script the pages need besides htmx (no inline scripts: the CSP allows none).
"use strict";
// A form or button with data-confirm asks first (cancel a run, remove an item).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
}, true);
// A select or checkbox with data-autosubmit submits its form when changed (the table filters).
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) { field.form.requestSubmit(); }
});
