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

  // A failed htmx request must never pass silently, and must not promise that asking again helps when it cannot.
  function failureMessage(status) {
    if (status === 403) return "Your role does not allow this. Nothing was changed.";
    if (status === 404) return "This is no longer there: it may have been removed. Reload the page to see what is.";
    if (status >= 500) return "The portal failed to answer (" + status + "). Nothing was changed; try again in a moment.";
    return "The portal answered " + status + ". Nothing was changed.";
  }
  document.addEventListener("htmx:responseError", function (event) {
    showToast(failureMessage(event.detail.xhr.status), "error");
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


// Panels that follow a resource: when the server says an operation ended (HX-Trigger "operation-finished" with the
// operation's subjects), every element whose data-follows names one of them (or "*") gets "resource-changed" and
// fetches itself again (portal.core.polling).
(function () {
  "use strict";

  document.addEventListener("operation-finished", function (event) {
    var subjects = (event.detail && event.detail.subjects) || [];
    document.querySelectorAll("[data-follows]").forEach(function (panel) {
      var follows = panel.getAttribute("data-follows");
      if (follows === "*" || subjects.indexOf(follows) !== -1) {
        window.htmx.trigger(panel, "resource-changed");
      }
    });
  });
})();

// Formset rows (core/key_value_rows.html, stages/_token_rows.html): data-add-row clones the fieldset's <template>,
// data-remove-row removes its row and numbers the rest again, so the formset always posts rows 0..n-1. The add button
// is disabled at the formset's maximum, and [data-row-summary] says how many rows will be sent.
// Copy buttons: data-copy names the element whose value (or, for any other element, text) goes to the clipboard;
// data-copy-text holds the text itself.
// Select all: a checkbox with data-select-all="<form id>" ticks or clears every checkbox bound to that form.
(function () {
  "use strict";

  function rows(fieldset) {
    return fieldset.querySelectorAll(".row-list > .row");
  }

  function renumber(fieldset) {
    var prefix = fieldset.getAttribute("data-formset");
    var pattern = new RegExp("^(id_)?" + prefix + "-\\d+-");
    rows(fieldset).forEach(function (row, index) {
      row.querySelectorAll("[name], [id], [for]").forEach(function (field) {
        ["name", "id", "for"].forEach(function (attribute) {
          var value = field.getAttribute(attribute);
          if (value && pattern.test(value)) {
            field.setAttribute(attribute, value.replace(pattern, "$1" + prefix + "-" + index + "-"));
          }
        });
      });
    });
    fieldset.querySelector("#id_" + prefix + "-TOTAL_FORMS").value = String(rows(fieldset).length);
    settle(fieldset);
  }

  function settle(fieldset) {
    var prefix = fieldset.getAttribute("data-formset");
    var count = rows(fieldset).length;
    var max = parseInt(fieldset.querySelector("#id_" + prefix + "-MAX_NUM_FORMS").value, 10);
    var add = fieldset.querySelector("[data-add-row]");
    if (add) add.disabled = count >= max;
    var limit = fieldset.querySelector("[data-row-limit]");
    if (limit) limit.hidden = count < max;
    var summary = fieldset.querySelector("[data-row-summary]");
    if (summary) {
      var key = count === 0 ? "data-none" : count === 1 ? "data-one" : "data-many";
      summary.textContent = summary.getAttribute(key).replace("{n}", String(count));
    }
  }

  function copy(button, text) {
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
      return;
    }
    var scratch = document.createElement("textarea");
    scratch.value = text;
    document.body.appendChild(scratch);
    scratch.select();
    document.execCommand("copy");
    scratch.remove();
    done();
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var fieldset = add.closest("[data-formset]");
      var html = fieldset.querySelector("template").innerHTML.replace(/__prefix__/g, String(rows(fieldset).length));
      fieldset.querySelector(".row-list").insertAdjacentHTML("beforeend", html);
      renumber(fieldset);
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var owner = remove.closest("[data-formset]");
      remove.closest(".row").remove();
      renumber(owner);
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
    var button = event.target.closest("[data-copy], [data-copy-text]");
    if (button) {
      if (button.hasAttribute("data-copy-text")) {
        copy(button, button.getAttribute("data-copy-text"));
      } else {
        var source = document.querySelector(button.getAttribute("data-copy"));
        copy(button, "value" in source ? source.value : source.textContent);
      }
    }
  });
})();
