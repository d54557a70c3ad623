/* yanxiu's own script: small enhancements only; every page works without it. */
document.addEventListener("click", function (event) {
  var target = event.target.closest("[data-print]");
  if (target) {
    event.preventDefault();
    window.print();
  }
});

// File uploads: refuse a file over the size limit before sending it (the server answers 413
// anyway), and show how much of an htmx upload has been sent.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) {
    return;
  }
  var file = input.files && input.files[0];
  var tooBig = file && file.size > Number(input.getAttribute("data-max-bytes"));
  input.setCustomValidity(tooBig ? input.getAttribute("data-too-big") : "");
  if (tooBig) {
    input.reportValidity();
  }
});
document.addEventListener("htmx:xhr:progress", function (event) {
  var bar = event.target.querySelector && event.target.querySelector("progress[data-upload-progress]");
  if (bar && event.detail.lengthComputable && event.detail.total) {
    bar.value = Math.round(100 * event.detail.loaded / event.detail.total);
  }
});

// Inline edit: Esc in a row being edited clicks its cancel link (htmx restores the row).
document.addEventListener("keydown", function (event) {
  var row = event.key === "Escape" && event.target.closest && event.target.closest("tr.editing");
  var cancel = row && row.querySelector("[data-cancel]");
  if (cancel) {
    event.preventDefault();
    cancel.click();
  }
});
