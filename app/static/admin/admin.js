// Ruta admin: small progressive enhancements. Everything works without this file; it only adds
// keyboard shortcuts for moving through a review queue, select-all, confirmations and auto-submit.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function ready() {
    // Language picker: submit on change.
    document.querySelectorAll("select.autosubmit").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    // Confirmation for destructive buttons (the text comes from a data attribute, never from HTML).
    document.querySelectorAll("button.confirm").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-confirm") || "?")) { event.preventDefault(); }
      });
    });
    // Select all rows on the page.
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("#submissions-table tbody input[name=ids]").forEach(function (box) {
          box.checked = all.checked;
        });
      });
    }
    tableKeys();
    submissionKeys();
  }

  // The table: j/k move the focused row, Enter opens it, x ticks it, / goes to the search box.
  function tableKeys() {
    var table = document.getElementById("submissions-table");
    if (!table) { return; }
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-id]"));
    var index = -1;
    function focus(i) {
      if (!rows.length) { return; }
      index = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r) { r.classList.remove("focused"); });
      rows[index].classList.add("focused");
      rows[index].scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (event.key === "/" && !typing(event)) {
        event.preventDefault();
        var search = document.getElementById("f-q");
        if (search) { search.focus(); }
        return;
      }
      if (typing(event)) { return; }
      if (event.key === "j") { focus(index + 1); }
      else if (event.key === "k") { focus(index - 1); }
      else if (event.key === "Enter" && index >= 0) {
        var link = rows[index].querySelector("a.open-link");
        if (link) { window.location.href = link.href; }
      } else if (event.key === "x" && index >= 0) {
        var box = rows[index].querySelector("input[name=ids]");
        if (box) { box.checked = !box.checked; }
      }
    });
  }

  // One submission: j/k next/previous in the queue, a/i/r review, c comment.
  function submissionKeys() {
    var form = document.getElementById("review-form");
    if (!document.body.classList.contains("submission-page")) { return; }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) { return; }
      var link;
      if (event.key === "j") { link = document.getElementById("queue-next"); }
      else if (event.key === "k") { link = document.getElementById("queue-prev"); }
      if (link) { window.location.href = link.href; return; }
      if (!form) { return; }
      if (event.key === "c") {
        event.preventDefault();
        document.getElementById("review-comment").focus();
        return;
      }
      var button = form.querySelector("button[data-key='" + event.key + "']");
      if (button) { event.preventDefault(); button.click(); }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); }
  else { ready(); }
})();
