/* The one-time transcript link's page: the token is in the fragment, never
   sent in a URL; it goes in a POST body, once (docs/protocol.md). */
(function () {
  'use strict';
  var token = location.hash.slice(1), said = document.getElementById('said'), get = document.getElementById('get');
  // Out of the address bar and history: the link is spent once used.
  history.replaceState(null, '', location.pathname);
  if (!/^[0-9a-f]{64}$/.test(token)) {
    get.disabled = true;
    said.textContent = 'This link is not complete. Ask your clinic to send it again.';
    return;
  }
  get.onclick = function () {
    get.disabled = true;
    said.textContent = 'Preparing your transcript…';
    fetch('/api/transcript', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ link: token }) })
      .then(function (r) {
        if (!r.ok) throw r.status;
        var name = /filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '');
        return r.blob().then(function (b) {
          var a = document.createElement('a');
          a.href = URL.createObjectURL(b);
          a.download = name ? name[1] : 'chat-transcript.html';
          document.body.appendChild(a);
          a.click();
          a.remove();
          said.textContent = 'Your transcript was downloaded. This link no longer works.';
        });
      })
      .catch(function (status) {
        said.textContent = status == 404
          ? 'This link was used already or has expired. Ask your clinic for a new one.'
          : 'Your transcript could not be downloaded. Please try again later.';
        if (status != 404) get.disabled = false;
      });
  };
})();
