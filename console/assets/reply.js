/* The page a patient's link to staff's answer opens (docs/notify.md): the
   token is in the fragment, never sent in a URL; a one-time code sent to the
   patient's address or number opens the answer. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var said = $('said'), send = $('send'), form = $('code-form');
  var token = location.hash.slice(1);
  try {
    if (token) sessionStorage.setItem('carechat.reply', token);
    else token = sessionStorage.getItem('carechat.reply') || '';
  } catch (e) { /* private mode: the token stays in memory only */ }
  history.replaceState(null, '', location.pathname);
  if (!/^[0-9a-f]{64}$/.test(token)) {
    send.disabled = true;
    said.textContent = 'This link is not complete. Ask your clinic to send it again.';
    return;
  }
  function post(path, body) {
    return fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw { status: r.status, message: j.error && j.error.message };
          return j;
        });
      });
  }
  function gone(e) {
    if (e.status == 404) {
      send.disabled = true;
      form.hidden = true;
      said.textContent = 'This link has expired or no longer works. Contact your clinic.';
      return true;
    }
    return false;
  }
  send.onclick = function () {
    send.disabled = true;
    said.textContent = 'Sending a code…';
    post('/api/reply/code', { link: token }).then(function () {
      form.hidden = false;
      said.textContent = 'We sent you a code. It works for 10 minutes.';
      $('code').focus();
      setTimeout(function () { send.disabled = false; send.textContent = 'Send a new code'; }, 60000);
    }, function (e) {
      if (gone(e)) return;
      send.disabled = false;
      said.textContent = e.status == 429 ? 'A code was sent a moment ago. Wait a minute before asking for another.'
        : 'The code could not be sent. Please try again later.';
    });
  };
  form.onsubmit = function (ev) {
    ev.preventDefault();
    said.textContent = 'Checking…';
    post('/api/reply', { link: token, code: $('code').value }).then(function (r) {
      form.hidden = true;
      send.hidden = true;
      said.textContent = '';
      var ol = $('messages');
      ol.textContent = '';
      r.messages.forEach(function (m) {
        var li = document.createElement('li'), who = document.createElement('strong'), p = document.createElement('p');
        li.setAttribute('data-from', m.from);
        who.textContent = m.from == 'patient' ? 'You' : m.from == 'clinician' ? (m.name || 'Your clinic') : 'Assistant';
        p.textContent = m.text;
        li.appendChild(who);
        li.appendChild(p);
        ol.appendChild(li);
      });
      $('thread').hidden = false;
      try { sessionStorage.removeItem('carechat.reply'); } catch (e) { /* nothing kept */ }
    }, function (e) {
      if (gone(e)) return;
      said.textContent = e.message || 'That code is not right. Check it, or ask for a new one.';
      $('code').select();
    });
  };
})();
