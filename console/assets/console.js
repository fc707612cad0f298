/* Carechat clinician console. Vanilla JS, no dependencies. Wire protocol: docs/protocol.md.
   All user-provided text goes into the DOM through textContent only. */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var me = null;          // USER
  var convs = [];         // SUMMARY[] from the last queue frame or GET /api/conversations
  var openId = null;      // id of the conversation shown on the right
  var openConv = null;    // its SUMMARY
  var seen = new Set();   // message ids shown in the history (dedupe HTTP answer vs socket push)
  var unread = new Set(); // conversation ids with messages not looked at yet
  var ws = null, wsTimer = null, wsTries = 0, bannerTimer = null, loadSeq = 0;

  var REASONS = {
    red_flag: 'Red-flag symptoms',
    handoff_intent: 'Topic always needs a person',
    low_confidence: 'Assistant was not confident'
  };
  var LABELS = { patient: 'Patient', bot: 'Assistant', clinician: 'Clinician', system: 'System' };

  // ---------- helpers ----------

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function pct(x) {
    return typeof x === 'number' && isFinite(x) ? Math.round(x * 100) + '%' : '–';
  }

  function words(s) {
    return s ? String(s).replace(/_/g, ' ') : '';
  }

  function age(iso) {
    var t = Date.parse(iso);
    if (!t) return '';
    var m = Math.floor((Date.now() - t) / 60000);
    if (m < 1) return 'just now';
    if (m < 60) return m + ' min';
    var h = Math.floor(m / 60);
    return h < 24 ? h + ' h ' + (m % 60) + ' min' : Math.floor(h / 24) + ' d';
  }

  function clock(iso) {
    var t = new Date(iso);
    return isNaN(t) ? '' : t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function isMine(c) {
    return !!(c && me && c.state === 'assigned' && c.assigned_to != null &&
      (String(c.assigned_to) === String(me.id) || String(c.assigned_to) === String(me.username)));
  }

  // `raw`: `{file}` sends a file as the body, `{blob: true}` answers one.
  async function api(method, path, body, raw) {
    var opts = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (raw && raw.file) {
      opts.headers['Content-Type'] = raw.file.type || 'application/octet-stream';
      opts.body = raw.file;
    } else if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    var res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      var ne = new Error('Could not reach the server. Check your connection.');
      ne.code = 'network';
      ne.status = 0;
      throw ne;
    }
    if (res.ok && raw && raw.blob) return res.blob();
    var data = null;
    if (res.status !== 204) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (!res.ok) {
      var info = (data && data.error) || {};
      // A chat that is not the clinician's opens only with a stated reason
      // (break-glass): it is recorded and admins are told.
      if (info.code === 'break_glass_required' && !/[?&]reason=/.test(path)) {
        var why = window.prompt('This chat is not yours to see. Why do you need to open it? ' +
          'At least 10 characters; your reason is recorded and the admins are told.');
        if (why && why.trim()) {
          return api(method, path + (path.indexOf('?') < 0 ? '?' : '&') + 'reason=' + encodeURIComponent(why.trim()), body, raw);
        }
      }
      var err = new Error(info.message || 'Request failed (HTTP ' + res.status + ').');
      err.code = info.code || 'http_' + res.status;
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // Any API error: 401 means the session is gone, anything else goes to the banner.
  function fail(err) {
    if (err && err.status === 401 && me) {
      toLogin();
      $('login-error').textContent = 'Your session ended. Please sign in again.';
      $('login-error').hidden = false;
      return;
    }
    banner(err && err.message ? err.message : 'Something went wrong.');
  }

  function banner(text) {
    $('banner-text').textContent = text;
    $('banner').hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(function () { $('banner').hidden = true; }, 10000);
  }

  // ---------- login / logout ----------

  function toLogin() {
    me = null;
    $('login-totp-row').hidden = true;
    stopSocket();
    convs = [];
    openId = openConv = null;
    seen.clear();
    unread.clear();
    $('loading').hidden = true;
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-password').value = '';
    $('login-username').focus();
    document.title = 'Carechat console';
  }

  function start(user) {
    // An auditor reads the audit trail and never a chat: their page is /admin.
    if (user.role === 'auditor') { location.href = '/admin'; return; }
    me = user;
    $('to-admin').textContent = user.role === 'admin' ? 'Administration' : 'My account';
    $('loading').hidden = true;
    $('login').hidden = true;
    $('login-error').hidden = true;
    $('app').hidden = false;
    $('chat').hidden = true;
    $('placeholder').hidden = false;
    renderMe();
    renderPush();
    renderList();
    connectSocket();
    refresh();
    loadBlocks();
    loadHeld();
    loadLeft();
    loadTeam();
  }

  $('login-form').addEventListener('submit', async function (e) {
    e.preventDefault();
    var err = $('login-error'), btn = $('login-submit');
    var username = $('login-username').value.trim(), password = $('login-password').value;
    err.hidden = true;
    if (!username || !password) {
      err.textContent = 'Enter your username and password.';
      err.hidden = false;
      return;
    }
    btn.disabled = true;
    var body = { username: username, password: password };
    var code = $('login-totp').value.trim();
    if (!$('login-totp-row').hidden && code) body.totp = code;
    try {
      var r = await api('POST', '/api/login', body);
      $('login-totp').value = '';
      $('login-totp-row').hidden = true;
      start(r.user);
    } catch (x) {
      if (x.code === 'mfa_required') {
        // The password was right: the second step, or how to set it up.
        var asked = !$('login-totp-row').hidden;
        $('login-totp-row').hidden = false;
        $('login-totp').value = '';
        err.textContent = asked ? 'That code did not work. ' + x.message : x.message;
        err.hidden = false;
        $('login-totp').focus();
        return;
      }
      err.textContent = x.status === 401 ? 'Wrong username or password' : x.message;
      err.hidden = false;
      $('login-password').select();
    } finally {
      btn.disabled = false;
    }
  });

  $('logout').addEventListener('click', async function () {
    try { await api('POST', '/api/logout'); } catch (e) { /* signed out locally either way */ }
    toLogin();
  });

  // ---------- header ----------

  function renderMe() {
    if (!me) return;
    $('me-name').textContent = me.display_name || me.username || '';
    var on = me.status === 'available', busy = me.status === 'busy', b = $('availability');
    b.textContent = on ? 'Available' : busy ? 'Busy' : 'Away';
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    b.setAttribute('data-status', on ? 'available' : busy ? 'busy' : 'away');
    b.title = on ? 'You receive new chats. Click to go away.' : 'You receive no new chats. Click to become available.';
    $('busy').hidden = !on;
  }

  $('busy').addEventListener('click', async function () {
    if (!me) return;
    try {
      me = (await api('POST', '/api/me/status', { status: 'busy' })).user;
      renderMe();
      refresh();
    } catch (e) { fail(e); }
  });

  $('availability').addEventListener('click', async function () {
    if (!me) return;
    var b = this, next = me.status === 'available' ? 'away' : 'available';
    b.disabled = true;
    try {
      var r = await api('POST', '/api/me/status', { status: next });
      me = r.user;
      renderMe();
      refresh();
    } catch (e) {
      fail(e);
    } finally {
      b.disabled = false;
    }
  });

  $('banner-close').addEventListener('click', function () { $('banner').hidden = true; });

  // ---------- idle timeout ----------
  // The server ends a session after some minutes with no request from its
  // person. Typing and clicking count, an open window does not: at most once
  // a minute, if the clinician did something, the console tells the server.
  var active = false;
  ['keydown', 'pointerdown'].forEach(function (type) {
    document.addEventListener(type, function () { active = true; }, true);
  });
  setInterval(function () {
    if (!me || !active) return;
    active = false;
    api('GET', '/api/me').then(function (r) { if (me) { me = r.user; renderMe(); } }, fail);
  }, 60000);

  // ---------- alerts: a sound, and a system notification when hidden ----------
  // What they say is never a patient's: only what happened.

  var audio = null;
  function alertsOn() {
    try { return localStorage.getItem('carechat.alerts') === 'on'; } catch (e) { return false; }
  }
  function renderAlerts() {
    var on = alertsOn();
    $('alerts').textContent = on ? 'Alerts on' : 'Alerts off';
    $('alerts').setAttribute('aria-pressed', on ? 'true' : 'false');
  }
  function beep(times) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      for (var i = 0; i < times; i++) {
        var o = audio.createOscillator(), g = audio.createGain(), t = audio.currentTime + i * 0.3;
        o.frequency.value = 880;
        g.gain.setValueAtTime(0.15, t);
        g.gain.exponentialRampToValueAtTime(0.001, t + 0.25);
        o.connect(g).connect(audio.destination);
        o.start(t);
        o.stop(t + 0.25);
      }
    } catch (e) { /* no audio here */ }
  }
  function notify(text, urgent) {
    if (!alertsOn()) return;
    beep(urgent ? 3 : 1);
    if (document.hidden && window.Notification && Notification.permission === 'granted') {
      try { new Notification('Carechat', { body: text, tag: 'carechat', renotify: true }); } catch (e) { /* not here */ }
    }
  }
  $('alerts').addEventListener('click', function () {
    var on = !alertsOn();
    try { localStorage.setItem('carechat.alerts', on ? 'on' : 'off'); } catch (e) { /* kept for this page only */ }
    renderAlerts();
    if (on) {
      beep(1);
      if (window.Notification && Notification.permission === 'default') Notification.requestPermission();
    }
  });
  renderAlerts();

  // Phone alerts: Web Push through this device's browser, so a waiting or
  // urgent chat reaches the clinician with the console closed.
  function pushKey(b64) {
    var s = atob((b64 + '==='.slice((b64.length + 3) % 4)).replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(s, function (c) { return c.charCodeAt(0); });
  }
  async function pushSubscription() {
    var reg = await navigator.serviceWorker.ready;
    return reg.pushManager.getSubscription();
  }
  async function renderPush() {
    var b = $('push');
    if (!('serviceWorker' in navigator) || !window.PushManager || !me || me.role === 'auditor') { b.hidden = true; return; }
    b.hidden = false;
    var on = false;
    try { on = !!(await pushSubscription()); } catch (e) { on = false; }
    b.textContent = on ? 'Phone alerts on' : 'Phone alerts off';
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
  }
  $('push').addEventListener('click', async function () {
    var b = this;
    b.disabled = true;
    try {
      var sub = await pushSubscription();
      if (sub) {
        await api('POST', '/api/me/push/remove', { endpoint: sub.endpoint }).catch(function () {});
        await sub.unsubscribe();
      } else {
        if (window.Notification && Notification.permission !== 'granted' &&
          await Notification.requestPermission() !== 'granted') throw new Error('Notifications are blocked for this site in the browser.');
        var r = await api('GET', '/api/push/key');
        var reg = await navigator.serviceWorker.ready;
        sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: pushKey(r.key) });
        await api('POST', '/api/me/push', sub.toJSON());
      }
    } catch (x) {
      fail(x);
    } finally {
      b.disabled = false;
      renderPush();
    }
  });

  // Installable on a phone or a desktop: the service worker caches the
  // console's shell only (sw.js), never a chat.
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(function () { /* served without it */ });
  }

  function setConn(state) {
    var c = $('connection');
    c.setAttribute('data-state', state);
    c.textContent = state === 'online' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
    c.title = state === 'online' ? 'Receiving live updates' : 'Live updates are paused';
  }

  // ---------- clinician socket ----------

  function connectSocket() {
    clearTimeout(wsTimer);
    setConn('connecting');
    var s;
    try {
      s = ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/clinician');
    } catch (e) {
      ws = null;
      return retrySocket();
    }
    s.onopen = function () {
      if (ws !== s) return;
      wsTries = 0;
    };
    s.onmessage = function (ev) {
      if (ws !== s) return;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(f);
    };
    s.onclose = function (ev) {
      if (ws !== s) return;
      ws = null;
      // 4001: the server ended the session (logout elsewhere, idle timeout,
      // an admin disabled the account): back to the sign-in form.
      if (ev.code === 4001) return fail({ status: 401 });
      setConn('offline');
      retrySocket();
    };
  }

  function retrySocket() {
    if (!me) return;
    setConn('offline');
    clearTimeout(wsTimer);
    wsTimer = setTimeout(async function () {
      // The socket may have closed because the session expired: check before reconnecting.
      try {
        var r = await api('GET', '/api/me');
        if (!me) return;
        me = r.user;
        renderMe();
        connectSocket();
      } catch (e) {
        if (e.status === 401) return fail(e);
        retrySocket();
      }
    }, Math.min(15000, 1000 * Math.pow(2, wsTries++)));
  }

  function stopSocket() {
    clearTimeout(wsTimer);
    if (ws) {
      var s = ws;
      ws = null;
      s.close();
    }
  }

  function onFrame(f) {
    if (f.type === 'hello' && f.user) {
      // Live once the server has us on its roster (it says hello after).
      setConn('online');
      me = f.user;
      renderMe();
      renderList();
    } else if (f.type === 'queue' && Array.isArray(f.conversations)) {
      setConvs(f.conversations);
    } else if (f.type === 'message' && f.message) {
      if (f.conversation === openId) {
        appendMessage(f.message);
      } else {
        unread.add(f.conversation);
        renderList();
      }
    } else if (f.type === 'offer') {
      banner('A chat is offered to you (' + f.expires_in_s + ' s to accept).');
      notify('A chat is offered to you.', false);
      unread.add(f.conversation);
      refresh().then(function () {
        if (!openId && f.conversation) select(f.conversation);
        else if (openId === f.conversation) loadDetail(openId, true);
      });
    } else if (f.type === 'offer_expired') {
      banner('An offered chat moved on to a colleague.');
      refresh();
      if (openId === f.conversation) loadDetail(openId, true);
    } else if (f.type === 'held') {
      banner('A message that reads like spam is held for review.');
      loadHeld();
    } else if (f.type === 'left_message') {
      banner('A patient left a message: nobody who could help was online.');
      notify('A patient left a message.', false);
      refresh();
      loadLeft();
    } else if (f.type === 'transfer') {
      banner(f.from + ' handed you a chat' + (f.note ? ': ' + f.note : '.'));
    } else if (f.type === 'team_message' && f.message) {
      teamIncoming(f.message);
    } else if (f.type === 'assigned') {
      notify('A chat was given to you.', false);
      unread.add(f.conversation);
      refresh().then(function () {
        if (!openId && f.conversation) select(f.conversation);
      });
    }
  }

  // ---------- conversation list ----------

  async function refresh() {
    try {
      var r = await api('GET', '/api/conversations');
      setConvs(r.conversations || []);
    } catch (e) {
      fail(e);
    }
  }

  var urgentSeen = null;
  function setConvs(list) {
    // A newly urgent chat waiting: the loudest alert.
    var urgent = list.filter(function (c) { return c.urgent && c.state === 'queued'; }).map(function (c) { return c.id; });
    if (urgentSeen && urgent.some(function (id) { return urgentSeen.indexOf(id) < 0; })) notify('An urgent chat is waiting.', true);
    urgentSeen = urgent;
    convs = list;
    renderList();
    if (!openId) return;
    var c = convs.find(function (x) { return x.id === openId; });
    if (c) {
      var changed = !openConv || c.state !== openConv.state || c.assigned_to !== openConv.assigned_to;
      openConv = c;
      renderHead();
      if (changed) renderWhisper();
    } else if (openConv && (openConv.state === 'queued' || isMine(openConv))) {
      // It left our lists: taken by someone else, or closed. Re-read it.
      loadDetail(openId, true);
    }
  }

  function renderList() {
    var waiting = convs.filter(function (c) { return c.state === 'queued'; })
      .map(function (c, i) { return [c, i]; })
      .sort(function (a, b) { return (b[0].urgent ? 1 : 0) - (a[0].urgent ? 1 : 0) || a[1] - b[1]; })
      .map(function (p) { return p[0]; });
    var mine = convs.filter(isMine);
    fill($('waiting'), waiting, true);
    fill($('mine'), mine, false);
    $('waiting-count').textContent = waiting.length;
    $('mine-count').textContent = mine.length;
    $('waiting-empty').hidden = waiting.length > 0;
    $('mine-empty').hidden = mine.length > 0;
    document.title = (waiting.length ? '(' + waiting.length + ') ' : '') + 'Carechat console';
  }

  function fill(ul, list, queue) {
    ul.textContent = '';
    list.forEach(function (c) {
      var w = c.whisper || {};
      var li = el('li');
      var b = el('button', 'item' + (c.urgent ? ' urgent' : '') + (c.id === openId ? ' selected' : ''));
      b.type = 'button';
      b.setAttribute('data-testid', 'queue-item');
      b.setAttribute('data-conversation', c.id);
      b.setAttribute('data-state', c.state);
      if (c.id === openId) b.setAttribute('aria-current', 'true');

      var top = el('span', 'row');
      if (c.urgent) top.appendChild(el('span', 'badge urgent-badge', 'URGENT'));
      if (queue && c.position != null) top.appendChild(el('span', 'pos', '#' + c.position));
      if (c.offline) top.appendChild(el('span', 'badge', 'Left a message'));
      if (c.offered_to != null && me && c.offered_to === me.id) top.appendChild(el('span', 'badge', 'Offered to you'));
      top.appendChild(el('span', 'intent', words(w.intent) || 'unclassified'));
      if (w.confidence != null) top.appendChild(el('span', 'conf', pct(w.confidence)));
      if (unread.has(c.id)) top.appendChild(el('span', 'dot', '')).setAttribute('aria-label', 'new messages');
      b.appendChild(top);

      var bits = [];
      var lang = c.language || w.language;
      if (lang) bits.push(String(lang).toUpperCase());
      if (w.skill) bits.push(words(w.skill));
      var a = age(c.created_at);
      if (a) bits.push(a);
      b.appendChild(el('span', 'row sub', bits.join(' · ')));

      b.addEventListener('click', function () { select(c.id); });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }

  setInterval(function () { if (me) renderList(); }, 30000);

  // ---------- one conversation ----------

  function select(id) {
    openId = id;
    unread.delete(id);
    renderList();
    loadDetail(id, false);
  }

  async function loadDetail(id, quiet) {
    var seq = ++loadSeq;
    try {
      var r = await api('GET', '/api/conversations/' + encodeURIComponent(id));
      if (seq !== loadSeq || openId !== id) return;
      openConv = r.conversation;
      seen.clear();
      $('history').textContent = '';
      $('placeholder').hidden = true;
      $('chat').hidden = false;
      renderHead();
      renderWhisper();
      renderNotes(r.notes || []);
      renderIntake(r.intake);
      (r.messages || []).forEach(appendMessage);
      if (!quiet && window.matchMedia('(max-width: 800px)').matches) $('chat').scrollIntoView({ block: 'start' });
    } catch (e) {
      if (seq !== loadSeq) return;
      if (quiet && openConv) {
        openConv = Object.assign({}, openConv, { state: 'unavailable' });
        renderHead();
      } else {
        fail(e);
      }
    }
  }

  // The patient's answers to the clinic's intake questions.
  var INTAKE = { name: 'Name', date_of_birth: 'Date of birth', reason: 'Reason for the visit', callback: 'Call back on' };
  function renderIntake(intake) {
    var dl = $('intake');
    dl.textContent = '';
    var keys = Object.keys(intake || {});
    dl.hidden = !keys.length;
    keys.forEach(function (k) {
      dl.appendChild(el('dt', null, INTAKE[k] || k));
      dl.appendChild(el('dd', null, intake[k]));
    });
  }

  function renderHead() {
    var c = openConv;
    if (!c) return;
    var mine = isMine(c);
    var chat = $('chat');
    chat.setAttribute('data-conversation', c.id);
    chat.setAttribute('data-state', c.state);
    chat.classList.toggle('is-urgent', !!c.urgent);

    $('chat-title').textContent = (c.urgent ? 'URGENT · ' : '') + 'Chat ' + c.id;
    var state =
      c.state === 'queued' && c.offline ? 'Left a message for staff' :
      c.state === 'queued' ? 'Waiting' + (c.position != null ? ' (#' + c.position + ' in line)' : '') +
        (c.wait_s != null ? ', about ' + Math.max(1, Math.round(c.wait_s / 60)) + ' min' : '') :
      c.state === 'assigned' ? (mine ? 'Assigned to you' : 'Assigned to ' + (c.assigned_name || 'another clinician')) :
      c.state === 'closed' ? 'Closed' :
      c.state === 'bot' ? 'With the assistant' :
      'No longer in your lists';
    var meta = [state];
    if (c.language) meta.push('Language ' + String(c.language).toUpperCase());
    if (c.created_at) meta.push('Started ' + clock(c.created_at) + ' (' + age(c.created_at) + ')');
    $('chat-meta').textContent = meta.join(' · ');

    var offeredToMe = c.offered_to != null && me && c.offered_to === me.id;
    $('accept').hidden = $('decline').hidden = !offeredToMe;
    $('take').hidden = c.state !== 'queued' || offeredToMe;
    $('start').hidden = !(c.state === 'bot' || c.state === 'closed');
    $('transfer').hidden = !mine;
    $('close').hidden = !mine;
    $('block').hidden = !(me && me.role === 'admin' && c.state !== 'closed');
    // Transcripts: an admin, or the clinician who has (or had) the chat.
    var admin = !!(me && me.role === 'admin');
    $('transcript').hidden = $('transcript-fhir').hidden = $('transcript-link').hidden =
      !(admin || (me && c.assigned_to != null && String(c.assigned_to) === String(me.id)));
    $('delete').hidden = !admin;
    var input = $('reply-input');
    input.disabled = !mine;
    $('reply-send').disabled = !mine;
    $('attach').disabled = !mine;
    input.placeholder = mine ? 'Type a reply… (Enter sends, Shift+Enter for a new line)' :
      c.state === 'queued' ? 'Take the chat to reply' : 'You can reply only to your own open chats';
    Array.prototype.forEach.call(document.querySelectorAll('[data-testid=suggested]'), function (b) { b.disabled = !mine; });
  }

  function renderWhisper() {
    var c = openConv, box = $('whisper'), sug = $('suggested-list');
    box.textContent = '';
    sug.textContent = '';
    var w = c && c.whisper;
    box.hidden = !w;
    $('suggestions').hidden = true;
    if (!w) return;
    box.classList.toggle('red', w.reason === 'red_flag');

    box.appendChild(el('h3', null, 'Handover from the assistant'));
    var dl = el('dl');
    function row(k, v) {
      if (v == null || v === '') return;
      dl.appendChild(el('dt', null, k));
      dl.appendChild(el('dd', null, v));
    }
    row('Reason', REASONS[w.reason] || words(w.reason));
    row('Intent', (words(w.intent) || 'unclassified') + (w.confidence != null ? ' · ' + pct(w.confidence) : ''));
    if (Array.isArray(w.alternatives) && w.alternatives.length) {
      row('Alternatives', w.alternatives.slice(0, 3).map(function (a) {
        return words(a.intent) + ' ' + pct(a.confidence);
      }).join(', '));
    }
    row('Language', w.language ? String(w.language).toUpperCase() : '');
    row('Spam score', w.spam_score != null ? pct(w.spam_score) : '');
    row('Skill', words(w.skill));
    box.appendChild(dl);
    if (w.summary) {
      box.appendChild(el('p', 'summary-label', 'Summary (redacted)'));
      box.appendChild(el('p', 'summary', w.summary));
    }

    var list = Array.isArray(w.suggested) ? w.suggested.filter(function (s) { return s && s.text; }) : [];
    list.forEach(function (s) {
      var b = el('button', 'suggested', s.text);
      b.type = 'button';
      b.setAttribute('data-testid', 'suggested');
      b.title = 'Put this reply in the reply box' + (s.language ? ' (' + s.language + ')' : '');
      b.disabled = !isMine(c);
      b.addEventListener('click', function () {
        var input = $('reply-input');
        input.value = s.text;
        input.focus();
      });
      sug.appendChild(b);
    });
    $('suggestions').hidden = list.length === 0;
  }

  function appendMessage(m) {
    if (!m) return;
    if (m.id != null) {
      if (seen.has(m.id)) return;
      seen.add(m.id);
    }
    var from = LABELS[m.from] ? m.from : 'system';
    var div = el('div', 'msg from-' + from);
    div.setAttribute('data-testid', 'history-message');
    div.setAttribute('data-from', from);
    var head = el('div', 'msg-head');
    head.appendChild(el('span', 'who', from === 'clinician' ? (m.name || LABELS.clinician) : LABELS[from]));
    if (m.at) head.appendChild(el('time', 'at', clock(m.at))).setAttribute('datetime', m.at);
    div.appendChild(head);
    // After a reload the server sends the words as typed (`original`) to
    // those allowed to read them; `text` is the redacted copy.
    var text = el('p', 'text', m.original || m.text);
    div.appendChild(text);
    // Card, account and Social Security numbers show their last four; the
    // rest on request, which is recorded.
    if (m.masked && m.id != null && openId) {
      var conv = openId;
      var reveal = el('button', 'ghost reveal', 'Show full numbers');
      reveal.type = 'button';
      reveal.setAttribute('data-testid', 'reveal');
      reveal.addEventListener('click', async function () {
        try {
          var r = await api('POST', '/api/conversations/' + encodeURIComponent(conv) + '/messages/' + m.id + '/reveal');
          text.textContent = r.original;
          reveal.remove();
        } catch (e) { fail(e); }
      });
      div.appendChild(reveal);
    }
    if (m.file) fileMessage(div, text, m.file);
    if (m.translation && m.translation.text) {
      var t = el('p', 'translation', 'Machine-translated (' + String(m.translation.language).toUpperCase() + '): ' + m.translation.text);
      t.setAttribute('data-testid', 'translation');
      div.appendChild(t);
    }
    var h = $('history');
    h.appendChild(div);
    h.scrollTop = h.scrollHeight;
  }

  // A shared file on its message: opened on request (each opening is on
  // the audit trail), a photo shown in place, a PDF saved.
  function fileMessage(div, text, f) {
    var label = text.textContent;
    var size = f.size < 1048576 ? Math.ceil(f.size / 1024) + ' KB' : (f.size / 1048576).toFixed(1) + ' MB';
    var b = el('button', 'ghost file', 'Open ' + f.name + ' (' + size + ')');
    b.type = 'button';
    b.setAttribute('data-testid', 'file');
    text.textContent = '';
    text.appendChild(b);
    b.addEventListener('click', async function () {
      try {
        var blob = await api('GET', '/api/files/' + f.id, undefined, { blob: true });
        var url = URL.createObjectURL(blob);
        var save = el('a', 'ghost-link', 'Save ' + f.name);
        save.href = url;
        save.download = f.name;
        save.setAttribute('data-testid', 'file-save');
        if (/^image\//.test(f.type)) {
          var img = el('img', 'shared');
          img.src = url;
          img.alt = (div.getAttribute('data-from') === 'patient' ? 'Photo from the patient: ' : 'Photo sent: ') + f.name;
          img.setAttribute('data-testid', 'file-preview');
          div.appendChild(img);
        }
        div.appendChild(save);
        // The message's own words ("📎 name") where the button was.
        b.remove();
        text.textContent = label;
        if (!/^image\//.test(f.type)) save.click();
      } catch (x) { fail(x); }
    });
  }

  // ---------- actions ----------

  $('take').addEventListener('click', async function () {
    var id = openId, b = this;
    if (!id) return;
    b.disabled = true;
    try {
      var r = await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/take');
      if (openId === id && r.conversation) {
        openConv = r.conversation;
        renderHead();
        renderWhisper();
        $('reply-input').focus();
        // Now theirs: read again, with the words as typed and the intake
        // answers the holder sees.
        loadDetail(id, true);
      }
    } catch (e) {
      fail(e);
      if (openId === id) loadDetail(id, true);
    } finally {
      b.disabled = false;
      refresh();
    }
  });


  function renderNotes(notes) {
    var box = $('notes');
    box.textContent = '';
    box.hidden = !notes.length;
    if (!notes.length) return;
    box.appendChild(el('strong', null, 'Staff notes (the patient does not see these)'));
    notes.forEach(function (n) {
      box.appendChild(el('p', null, clock(n.created_at) + ' · ' + (n.original || n.text)));
    });
  }

  function convAction(button, verb, body) {
    button.addEventListener('click', async function () {
      var id = openId, b = this;
      if (!id) return;
      var payload = body ? body() : undefined;
      if (payload === null) return;
      b.disabled = true;
      try {
        var r = await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/' + verb, payload);
        if (openId === id && r && r.conversation) {
          openConv = r.conversation;
          renderHead();
          renderWhisper();
        }
      } catch (e) {
        fail(e);
      } finally {
        b.disabled = false;
        refresh();
        if (openId === id) loadDetail(id, true);
      }
    });
  }
  convAction($('accept'), 'accept');
  convAction($('decline'), 'decline');
  convAction($('start'), 'start');
  convAction($('close'), 'close');
  // A download the server names (Content-Disposition); the file never
  // passes through a URL.
  async function download(path) {
    var res = await fetch(path, { credentials: 'same-origin' });
    if (!res.ok) {
      var data = null;
      try { data = await res.json(); } catch (e) { data = null; }
      var err = new Error((data && data.error && data.error.message) || 'Request failed (HTTP ' + res.status + ').');
      err.status = res.status;
      throw err;
    }
    var name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
    var a = document.createElement('a');
    a.href = URL.createObjectURL(await res.blob());
    a.download = name ? name[1] : 'transcript';
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  [['transcript', 'html'], ['transcript-fhir', 'fhir']].forEach(function (x) {
    $(x[0]).addEventListener('click', function () {
      if (!openId) return;
      download('/api/conversations/' + encodeURIComponent(openId) + '/transcript?format=' + x[1]).catch(fail);
    });
  });
  $('transcript-link').addEventListener('click', async function () {
    if (!openId) return;
    try {
      var r = await api('POST', '/api/conversations/' + encodeURIComponent(openId) + '/transcript/link');
      window.prompt('Send this link to the patient (it works once, until ' + clock(r.expires_at) + '):',
        location.origin + r.path);
    } catch (e) { fail(e); }
  });
  $('delete').addEventListener('click', async function () {
    var id = openId;
    if (!id || !window.confirm('Delete chat ' + id + ' for good? Its messages cannot be recovered, from this ' +
      'server or from any backup.')) return;
    try {
      await api('DELETE', '/api/conversations/' + encodeURIComponent(id));
      if (openId === id) { openId = null; openConv = null; $('chat').hidden = true; $('placeholder').hidden = false; }
      refresh();
    } catch (e) { fail(e); }
  });
  convAction($('transfer'), 'transfer', function () {
    var names = colleagues.map(function (u) { return u.username; }).join(', ');
    var to = window.prompt('Transfer to a colleague (' + names + ') or a skill group (front_desk, billing, nursing, dental, records):', '');
    if (!to) return null;
    to = to.trim();
    var note = window.prompt('Note for staff (the patient does not see it):', '');
    if (note === null) return null;
    var u = colleagues.find(function (x) { return x.username === to; });
    return { to: u ? { clinician: u.id } : { skill: to }, note: note };
  });

  // ---------- team chat ----------

  var colleagues = [];

  async function loadTeam() {
    try { colleagues = (await api('GET', '/api/team')).users || []; } catch (e) { return fail(e); }
    var sel = $('team-to'), keep = sel.value;
    sel.textContent = '';
    colleagues.forEach(function (u) {
      var o = el('option', null, (u.display_name || u.username) + ' (' + u.status + ')');
      o.value = String(u.id);
      sel.appendChild(o);
    });
    if (keep) sel.value = keep;
    loadTeamThread();
  }

  async function loadTeamThread() {
    var other = $('team-to').value, log = $('team-log');
    log.textContent = '';
    if (!other) return;
    try {
      var r = await api('GET', '/api/team/' + encodeURIComponent(other));
      (r.messages || []).forEach(function (m) { teamLine(m.user_id === me.id ? 'You' : nameOf(m.user_id), m.text); });
    } catch (e) { fail(e); }
  }

  function nameOf(id) {
    var u = colleagues.find(function (x) { return x.id === id; });
    return u ? (u.display_name || u.username) : 'Colleague';
  }

  function teamLine(who, text) {
    var log = $('team-log'), p = el('p', 'text');
    p.appendChild(el('strong', null, who + ': '));
    p.appendChild(document.createTextNode(text));
    log.appendChild(p);
    log.scrollTop = log.scrollHeight;
  }

  function teamIncoming(m) {
    if (String(m.from) === $('team-to').value) teamLine(m.name || nameOf(m.from), m.text);
    else banner('Message from ' + (m.name || nameOf(m.from)) + ': ' + m.text);
  }

  $('team-to').addEventListener('change', loadTeamThread);
  $('team-form').addEventListener('submit', async function (e) {
    e.preventDefault();
    var to = $('team-to').value, input = $('team-input'), text = input.value.trim();
    if (!to || !text) return;
    try {
      var r = await api('POST', '/api/team/' + encodeURIComponent(to), { text: text });
      teamLine('You', r.message.text);
      input.value = '';
    } catch (x) { fail(x); }
  });

  // ---------- held for review: read like spam, a person decides ----------

  async function loadHeld() {
    if (!me) return;
    var r;
    try { r = await api('GET', '/api/held'); } catch (e) { return fail(e); }
    var ul = $('held');
    ul.textContent = '';
    $('held-count').textContent = String(r.held.length);
    $('held-empty').hidden = r.held.length > 0;
    r.held.forEach(function (h) {
      var li = el('li', 'item');
      li.setAttribute('data-testid', 'held-item');
      var last = h.messages.length ? h.messages[h.messages.length - 1].text : '';
      li.appendChild(el('span', null, words(last) + ' · ' + age(h.updated_at)));
      var open = el('button', 'ghost small', 'Open');
      open.type = 'button';
      open.setAttribute('data-testid', 'held-open');
      open.addEventListener('click', function () { select(h.conversation); });
      var dismiss = el('button', 'ghost small', 'Not spam');
      dismiss.type = 'button';
      dismiss.title = 'Take it off this list; the chat stays with the bot';
      dismiss.setAttribute('data-testid', 'held-dismiss');
      dismiss.addEventListener('click', async function () {
        dismiss.disabled = true;
        try {
          await api('POST', '/api/held/' + encodeURIComponent(h.conversation) + '/dismiss', {});
        } catch (e) { fail(e); }
        loadHeld();
      });
      li.appendChild(open);
      li.appendChild(dismiss);
      ul.appendChild(li);
    });
  }

  // ---------- left a message: the offline contact form ----------

  var CHANNELS = { email: 'Email', sms: 'Text message', phone: 'Call back' };

  async function loadLeft() {
    if (!me) return;
    var r;
    try { r = await api('GET', '/api/left-messages'); } catch (e) { return fail(e); }
    var ul = $('left');
    ul.textContent = '';
    $('left-count').textContent = String(r.left.length);
    $('left-empty').hidden = r.left.length > 0;
    r.left.forEach(function (m) {
      var li = el('li', 'item' + (m.urgent ? ' urgent' : ''));
      li.setAttribute('data-testid', 'left-item');
      li.appendChild(el('span', 'row', (m.urgent ? 'URGENT · ' : '') + (CHANNELS[m.channel] || m.channel) + ': '));
      var to = el('span', 'row', m.contact);
      to.setAttribute('data-testid', 'left-contact');
      li.appendChild(to);
      var sub = [m.best_time ? 'Best time: ' + m.best_time : '', age(m.created_at), m.encrypted ? '' : 'details not kept (no encryption)']
        .filter(Boolean).join(' · ');
      li.appendChild(el('span', 'row sub', sub));
      var open = el('button', 'ghost small', 'Open chat');
      open.type = 'button';
      open.setAttribute('data-testid', 'left-open');
      open.addEventListener('click', function () { select(m.conversation); });
      var done = el('button', 'ghost small', 'Done');
      done.type = 'button';
      done.title = 'Answered: take it off this list';
      done.setAttribute('data-testid', 'left-done');
      done.addEventListener('click', async function () {
        done.disabled = true;
        try {
          await api('POST', '/api/left-messages/' + m.id + '/done', {});
        } catch (e) { fail(e); }
        loadLeft();
      });
      li.appendChild(open);
      if (m.channel !== 'phone') {
        var tell = el('button', 'ghost small', m.replied_at ? 'Tell again' : 'Tell the patient');
        tell.type = 'button';
        tell.title = 'Once you answered in the chat: send the patient a link to read it (by ' + CHANNELS[m.channel].toLowerCase() + ')';
        tell.setAttribute('data-testid', 'left-notify');
        tell.addEventListener('click', async function () {
          tell.disabled = true;
          try {
            await api('POST', '/api/left-messages/' + m.id + '/notify', {});
            banner('The patient was sent a link to your answer.');
          } catch (e) { fail(e); }
          loadLeft();
        });
        li.appendChild(tell);
      }
      li.appendChild(done);
      ul.appendChild(li);
    });
  }

  // ---------- admin: blocking senders ----------

  async function loadBlocks() {
    if (!me || me.role !== 'admin') return;
    $('blocks-section').hidden = false;
    var r;
    try { r = await api('GET', '/api/blocks'); } catch (e) { return fail(e); }
    var ul = $('blocks');
    ul.textContent = '';
    $('blocks-count').textContent = String(r.blocks.length);
    r.blocks.forEach(function (b) {
      var li = el('li', 'item');
      li.setAttribute('data-testid', 'blocked');
      li.appendChild(el('span', null, 'By ' + b.kind + (b.conversation_id ? ' · chat ' + b.conversation_id : '') +
        (b.reason ? ' · ' + b.reason : '') + ' · ' + age(b.created_at)));
      var u = el('button', 'ghost small', 'Unblock');
      u.type = 'button';
      u.setAttribute('data-testid', 'unblock');
      u.addEventListener('click', async function () {
        u.disabled = true;
        try { await api('DELETE', '/api/blocks/' + b.id); } catch (e) { fail(e); }
        loadBlocks();
      });
      li.appendChild(u);
      ul.appendChild(li);
    });
  }

  $('block').addEventListener('click', async function () {
    var id = openId, b = this;
    if (!id) return;
    var reason = window.prompt('Block this sender? They will not be able to chat again until unblocked. Reason (optional, staff only):', '');
    if (reason === null) return;
    b.disabled = true;
    try {
      try {
        await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/block', { reason: reason });
      } catch (e) {
        // A shared address: offer the browser alone rather than locking others out.
        if (e.status !== 409 || !window.confirm(e.message + '\n\nBlock this browser only?')) throw e;
        await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/block', { reason: reason, by: ['fingerprint'] });
      }
      banner('Sender blocked.');
    } catch (e) {
      fail(e);
    } finally {
      b.disabled = false;
      refresh();
      loadBlocks();
      if (openId === id) loadDetail(id, true);
    }
  });

  $('reply-form').addEventListener('submit', async function (e) {
    e.preventDefault();
    var id = openId, input = $('reply-input'), send = $('reply-send');
    var text = input.value.trim();
    if (!id || !text || !isMine(openConv)) return;
    send.disabled = true;
    try {
      var r = await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/messages', { text: text });
      if (openId === id) {
        appendMessage(r.message);
        if (input.value.trim() === text) input.value = '';
      }
    } catch (x) {
      fail(x);
    } finally {
      send.disabled = !isMine(openConv);
      input.focus();
    }
  });

  // A file to the patient: the server checks, scans and strips it.
  $('attach').addEventListener('click', function () { $('attach-input').click(); });
  $('attach-input').addEventListener('change', async function () {
    var id = openId, input = this, file = input.files[0], b = $('attach');
    input.value = '';
    if (!id || !file || !isMine(openConv)) return;
    b.disabled = true;
    b.setAttribute('aria-busy', 'true');
    $('attach-status').textContent = 'Sending ' + file.name + '…';
    try {
      var r = await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/files?name=' + encodeURIComponent(file.name), undefined, { file: file });
      if (openId === id) appendMessage(r.message);
      $('attach-status').textContent = 'Sent ' + file.name + '.';
    } catch (x) {
      $('attach-status').textContent = '';
      fail(x);
    } finally {
      b.removeAttribute('aria-busy');
      b.disabled = !isMine(openConv);
    }
  });

  // ---------- canned replies ----------

  // Typing "/" at the start of the reply box opens the clinic's canned
  // replies (those in the language the clinician writes to this patient
  // first, then their most used); what follows the "/" searches them.
  // Enter puts the chosen one's text (variables filled in) in the box.
  var canned = { list: [], forId: null, shown: [], active: 0, open: false };

  async function loadCanned(id) {
    var r = await api('GET', '/api/canned' + (id ? '?conversation=' + encodeURIComponent(id) : ''));
    canned.list = Array.isArray(r.replies) ? r.replies : [];
    canned.forId = id;
  }

  function closeCanned() {
    canned.open = false;
    $('canned').hidden = true;
    $('reply-input').setAttribute('aria-expanded', 'false');
    $('reply-input').removeAttribute('aria-activedescendant');
  }

  function drawCanned() {
    var ul = $('canned-list');
    ul.textContent = '';
    canned.shown.forEach(function (r, i) {
      var li = el('li');
      li.id = 'canned-' + r.id;
      li.setAttribute('role', 'option');
      li.setAttribute('data-testid', 'canned-option');
      li.setAttribute('aria-selected', i === canned.active ? 'true' : 'false');
      var head = el('strong', null, r.title);
      li.appendChild(head);
      li.appendChild(el('span', 'muted small-text', (r.shared ? 'Shared' : 'Mine') + ' · ' + r.language + (r.uses ? ' · used ' + r.uses + '×' : '')));
      li.appendChild(el('span', 'canned-text', r.text));
      li.addEventListener('mousedown', function (e) { e.preventDefault(); pickCanned(i); });
      ul.appendChild(li);
    });
    $('canned-hint').textContent = canned.shown.length
      ? 'Canned replies: ↑ ↓ to choose, Enter to use, Esc to close'
      : (canned.list.length ? 'No canned reply matches. Esc to close.' : 'No canned replies yet: add your own on the left.');
    var active = canned.shown[canned.active];
    $('reply-input').removeAttribute('aria-activedescendant');
    if (active) {
      $('reply-input').setAttribute('aria-activedescendant', 'canned-' + active.id);
      var node = $('canned-' + active.id);
      if (node && node.scrollIntoView) node.scrollIntoView({ block: 'nearest' });
    }
  }

  async function updateCanned() {
    var input = $('reply-input'), m = /^\/(.*)$/s.exec(input.value);
    if (!m || !isMine(openConv)) { closeCanned(); return; }
    if (canned.forId !== openId) {
      try { await loadCanned(openId); } catch (x) { fail(x); return; }
    }
    var words = m[1].toLowerCase().split(/\s+/).filter(Boolean);
    canned.shown = canned.list.filter(function (r) {
      var hay = (r.title + ' ' + r.text).toLowerCase();
      return words.every(function (w) { return hay.indexOf(w) !== -1; });
    }).slice(0, 8);
    canned.active = 0;
    canned.open = true;
    $('canned').hidden = false;
    input.setAttribute('aria-expanded', 'true');
    drawCanned();
  }

  function pickCanned(i) {
    var r = canned.shown[i];
    if (!r) return;
    var input = $('reply-input');
    input.value = r.text;
    closeCanned();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    r.uses += 1;
    api('POST', '/api/canned/' + r.id + '/use').catch(function () {});
  }

  $('reply-input').addEventListener('input', updateCanned);
  $('reply-input').addEventListener('blur', function () { setTimeout(closeCanned, 150); });

  $('reply-input').addEventListener('keydown', function (e) {
    if (canned.open && !e.isComposing) {
      var n = canned.shown.length;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        if (n) canned.active = (canned.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
        drawCanned();
        return;
      }
      if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && n) {
        e.preventDefault();
        pickCanned(canned.active);
        return;
      }
      // Nothing matches: Enter never sends the "/search" to the patient.
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        closeCanned();
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('reply-form').requestSubmit();
    }
  });

  // One's own replies, managed on the left.
  async function loadMyCanned() {
    var ul = $('my-canned-list');
    var r = await api('GET', '/api/canned');
    canned.forId = null;
    ul.textContent = '';
    (r.replies || []).filter(function (c) { return !c.shared; }).forEach(function (c) {
      var li = el('li', 'item');
      li.appendChild(el('strong', null, c.title + ' (' + c.language + ')'));
      li.appendChild(el('span', 'canned-text', c.body));
      var del = el('button', 'ghost small', 'Delete');
      del.type = 'button';
      del.setAttribute('data-testid', 'my-canned-delete');
      del.setAttribute('aria-label', 'Delete the canned reply ' + c.title);
      del.addEventListener('click', async function () {
        try { await api('DELETE', '/api/canned/' + c.id); loadMyCanned(); } catch (x) { fail(x); }
      });
      li.appendChild(del);
      ul.appendChild(li);
    });
  }

  $('my-canned').addEventListener('toggle', function () {
    if ($('my-canned').open) loadMyCanned().catch(fail);
  });

  $('my-canned-form').addEventListener('submit', async function (e) {
    e.preventDefault();
    var error = $('my-canned-error');
    error.hidden = true;
    try {
      await api('POST', '/api/canned', {
        language: $('my-canned-language').value,
        title: $('my-canned-title').value,
        body: $('my-canned-body').value
      });
      $('my-canned-title').value = '';
      $('my-canned-body').value = '';
      await loadMyCanned();
    } catch (x) {
      error.textContent = x.message;
      error.hidden = false;
    }
  });

  // ---------- the clinic's settings ----------

  // A clinic may turn copying out of the chat view off.
  function applySettings(settings) {
    if (!settings || settings.copy !== false) return;
    var h = $('history');
    h.classList.add('no-copy');
    ['copy', 'cut', 'contextmenu', 'dragstart'].forEach(function (kind) {
      h.addEventListener(kind, function (e) { e.preventDefault(); });
    });
  }

  // ---------- single sign-on ----------

  // What the server's /api/sso/callback says went wrong (#sso=<code>).
  var SSO_ERRORS = {
    expired: 'The sign-in expired or was started in another browser. Please try again.',
    provider: 'The identity provider refused the sign-in or could not be reached.',
    no_role: 'Your account at the identity provider gives no Carechat role. Ask an admin.',
    taken: 'A Carechat account with your name exists that was not made by single sign-on. Ask an admin.',
    disabled: 'This account is disabled.',
    last_admin: 'The identity provider no longer makes you an admin, but you are the last one. Make another admin first.',
    rate_limited: 'Too many sign-ins from here; try again in a moment.',
    busy: 'The server is busy; try again in a moment.',
    failed: 'The sign-in failed. Please try again.'
  };

  $('login-sso').addEventListener('click', function () { location.href = '/api/sso/login'; });

  async function ssoOptions() {
    var sso = await api('GET', '/api/sso').catch(function () { return { enabled: false }; });
    $('login-sso').hidden = !sso.enabled;
    if (sso.only) {
      $('login-password-fields').hidden = true;
      $('login-submit').hidden = true;
      $('login-sso').className = 'primary';
    }
    var m = /^#sso=([a-z_]+)$/.exec(location.hash);
    if (m) {
      history.replaceState(null, '', location.pathname);
      $('login-error').textContent = SSO_ERRORS[m[1]] || SSO_ERRORS.failed;
      $('login-error').hidden = false;
    }
  }

  // ---------- start ----------

  api('GET', '/api/me').then(function (r) { applySettings(r.settings); start(r.user); }, function (e) {
    toLogin();
    if (e.status !== 401) {
      $('login-error').textContent = e.message;
      $('login-error').hidden = false;
    }
  });
  ssoOptions();
})();
