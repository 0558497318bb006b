// Runs first (a classic script, so the page has no inline script and its
// Content-Security-Policy can forbid them). Lovebeat may sit under any
// sub-path of a reverse proxy, and the page may be served for one of the
// dashboard's own routes (services, views/<name>). The server says how many
// slashes its path had; the root is the page's path with that many trailing
// segments cut. Assets, API and websocket are all relative to it; the route
// moves into the fragment.
(function () {
  var n = parseInt(document.documentElement.getAttribute('data-slashes'), 10) || 1;
  var p = location.pathname, i = p.length;
  for (var k = 0; k < n && i > 0; k++) i = p.lastIndexOf('/', i - 1);
  var root = p.slice(0, i + 1) || '/';
  window.LOVEBEAT_ROOT = root;
  var rest = p.slice(root.length);
  if (rest && !location.hash) history.replaceState(null, '', root + '#/' + rest);
  function add(tag, attrs) {
    var el = document.createElement(tag);
    for (var a in attrs) el.setAttribute(a, attrs[a]);
    document.head.appendChild(el);
  }
  add('link', { rel: 'stylesheet', href: root + 'static/style.css' });
  add('link', { rel: 'icon', id: 'favicon', type: 'image/svg+xml', href: root + 'static/favicon.svg' });
  add('script', { type: 'module', src: root + 'static/app.js' });
})();
