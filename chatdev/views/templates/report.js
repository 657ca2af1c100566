(function () {
  "use strict";
  var links = Array.prototype.slice.call(document.querySelectorAll("a[data-pane]"));
  var panes = Array.prototype.slice.call(document.querySelectorAll("section.pane"));
  function show(id) {
    if (!document.getElementById(id)) { id = "overview"; }
    panes.forEach(function (p) { p.hidden = p.id !== id; });
    links.forEach(function (a) { a.classList.toggle("active", a.getAttribute("data-pane") === id); });
    document.body.setAttribute("data-shown", id);
  }
  links.forEach(function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      var id = a.getAttribute("data-pane");
      show(id);
      try { history.replaceState(null, "", "#" + id); } catch (err) { /* file:// may refuse */ }
      window.scrollTo(0, 0);
    });
  });
  show(location.hash ? location.hash.slice(1) : "overview");
})();
