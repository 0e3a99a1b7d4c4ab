/* dist/ names carry content hashes: DIST('micropython/') gives '/dist/micropython.<hash>/',
   read from dist/manifest.json (one synchronous loopback request, ~1 ms), so a page can write
   the tags a server-rendered page would carry. A classic script: load it without async/defer. */
var DIST = (function () {
  var xhr = new XMLHttpRequest();
  xhr.open('GET', '/dist/manifest.json', false);
  xhr.send();
  var files = JSON.parse(xhr.responseText);
  return function (name) { return '/dist/' + files[name]; };
})();
