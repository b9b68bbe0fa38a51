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
