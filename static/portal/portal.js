// Toasts: the server sends HX-Trigger {"toast": {"level": "...", "message": "..."}}; page loads render Django messages.
(function () {
  "use strict";

  function showToast(message, level) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "info");
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.textContent = message;
    box.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 6000);
  }

  document.addEventListener("toast", function (event) {
    showToast(event.detail && event.detail.message, event.detail && event.detail.level);
  });

  // A failed htmx request must never pass silently.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    showToast("The portal answered " + xhr.status + " " + (xhr.statusText || "") + ". Nothing was lost; try again.", "error");
  });
  document.addEventListener("htmx:sendError", function () {
    showToast("The portal could not be reached. Check your connection and try again.", "error");
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#toasts .toast").forEach(function (toast) {
      setTimeout(function () { toast.remove(); }, 6000);
    });
  });

  window.portalToast = showToast;
})();

// Formset rows: a button with data-add-row clones its fieldset's <template> and bumps TOTAL_FORMS.
// Copy buttons: data-copy names the element whose value (or, for any other element, text) goes to the clipboard.
// Select all: a checkbox with data-select-all="<form id>" ticks or clears every checkbox bound to that form.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var fieldset = add.closest("[data-formset]");
      var prefix = fieldset.getAttribute("data-formset");
      var total = fieldset.querySelector("#id_" + prefix + "-TOTAL_FORMS");
      var max = fieldset.querySelector("#id_" + prefix + "-MAX_NUM_FORMS");
      var count = parseInt(total.value, 10);
      if (max && count >= parseInt(max.value, 10)) {
        window.portalToast("No more rows: " + max.value + " at most.", "error");
        return;
      }
      var html = fieldset.querySelector("template").innerHTML.replace(/__prefix__/g, String(count));
      fieldset.querySelector(".row-list").insertAdjacentHTML("beforeend", html);
      total.value = String(count + 1);
      return;
    }
    var all = event.target.closest("[data-select-all]");
    if (all) {
      var form = all.getAttribute("data-select-all");
      document.querySelectorAll('input[type=checkbox][form="' + form + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      var text = "value" in source ? source.value : source.textContent;
      var done = function () { copy.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
      } else {
        var scratch = document.createElement("textarea");
        scratch.value = text;
        document.body.appendChild(scratch);
        scratch.select();
        document.execCommand("copy");
        scratch.remove();
        done();
      }
    }
  });
})();
