/* Carechat patient widget. Vanilla JS, no dependencies. Wire protocol: docs/protocol.md.
   Embed: <script src="https://chat.example/widget.js" data-clinic="Name" data-color="#0f766e" defer></script> */
(function () {
  'use strict';
  var d = document, me = d.currentScript || d.querySelector('script[src$="/widget.js"]');
  if (!me || d.getElementById('carechat-widget')) return;
  var src = new URL(me.src, location.href);
  var WS = (src.protocol == 'https:' ? 'wss://' : 'ws://') + src.host + '/ws/patient';
  var attr = function (n) { return me.getAttribute('data-' + n) || ''; };
  var clinic = attr('clinic') || 'Chat';
  // The clinic's colour, made darker until white text on it reaches WCAG's
  // 4.5:1 (the header, the send button and the patient's own bubbles).
  var color = (function (c) {
    c = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(c) ? c.slice(1) : '0f766e';
    if (c.length < 6) c = c.replace(/./g, '$&$&');
    var rgb = [0, 2, 4].map(function (i) { return parseInt(c.substr(i, 2), 16); }), lum = function () {
      var l = rgb.map(function (v) { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
      return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
    };
    while (1.05 / (lum() + 0.05) < 4.5) rgb = rgb.map(function (v) { return Math.floor(v * 0.9); });
    return '#' + rgb.map(function (v) { return (v + 256).toString(16).slice(1); }).join('');
  })(attr('color'));
  var lang = attr('lang') || navigator.language || 'en';
  var S = {
    en: ['Chat with us', 'Close chat', 'Type your message', 'Send', 'Messages', 'You', 'Assistant', 'Team member',
      'Connecting…', 'Reconnecting…', 'Waiting for a team member', ' — you are number ', 'Chatting with ',
      'Conversation closed', 'Not for emergencies: call your local emergency number.', 'Start a new conversation',
      'A new conversation was started.',
      { too_long: 'Your message is too long (2,000 characters at most).', busy: 'We are busy right now. Please try again in a moment.',
        closed: 'This conversation is closed.', blocked: 'Your message could not be delivered.', bad_frame: 'Your message could not be sent.' },
      'Message left for our team', ', about ', ' min', 'Machine-translated. Original: ', 'Download the transcript',
      ['Nobody can answer right now. How should we reach you?', 'Email', 'Text message', 'Phone call', 'Email address', 'Mobile number', 'Phone number',
        'Best time to reach you (optional)', 'Your question (optional if you wrote it above)', 'Leave my details',
        'Thank you. A team member will get back to you. You can also come back to this chat on this device.'],
      ['I agree', 'Privacy notice'],
      { title: 'Before we start (all optional)', name: 'Your name', date_of_birth: 'Date of birth', reason: 'Reason for your visit', callback: 'A number to call you back', go: 'Continue', skip: 'Skip' },
      'Send a photo or PDF'],
    es: ['Chatee con nosotros', 'Cerrar chat', 'Escriba su mensaje', 'Enviar', 'Mensajes', 'Usted', 'Asistente', 'Miembro del equipo',
      'Conectando…', 'Reconectando…', 'Esperando a un miembro del equipo', ' — usted es el número ', 'Conversando con ',
      'Conversación cerrada', 'No es para emergencias: llame al número de emergencias local.', 'Iniciar una nueva conversación',
      'Se inició una nueva conversación.',
      { too_long: 'Su mensaje es demasiado largo (2.000 caracteres como máximo).', busy: 'Estamos ocupados. Inténtelo de nuevo en un momento.',
        closed: 'Esta conversación está cerrada.', blocked: 'No se pudo entregar su mensaje.', bad_frame: 'No se pudo enviar su mensaje.' },
      'Mensaje dejado para nuestro equipo', ', unos ', ' min', 'Traducción automática. Original: ', 'Descargar la transcripción',
      ['Nadie puede responder ahora. ¿Cómo le contactamos?', 'Correo electrónico', 'Mensaje de texto', 'Llamada', 'Correo electrónico', 'Número de móvil', 'Número de teléfono',
        'Mejor hora para contactarle (opcional)', 'Su pregunta (opcional si ya la escribió arriba)', 'Dejar mis datos',
        'Gracias. Un miembro del equipo le responderá. También puede volver a este chat en este dispositivo.'],
      ['Acepto', 'Aviso de privacidad'],
      { title: 'Antes de empezar (todo opcional)', name: 'Su nombre', date_of_birth: 'Fecha de nacimiento', reason: 'Motivo de su visita', callback: 'Un número para devolverle la llamada', go: 'Continuar', skip: 'Omitir' },
      'Enviar una foto o PDF']
  };
  var T = S[lang.slice(0, 2).toLowerCase()] || S.en;
  var store = function (k, v, S) {
    S = S || sessionStorage;
    try { return v === undefined ? S.getItem('carechat.' + k) : v === null ? S.removeItem('carechat.' + k) : S.setItem('carechat.' + k, v); } catch (e) { return null; }
  };
  // Once the patient left their details the chat must outlive the tab (a
  // reply may come tomorrow): its resume token is kept on this device for
  // 14 days, and forgotten when the chat closes.
  var kept = function (v) {
    if (v !== undefined) return store('kept', v && JSON.stringify([v, Date.now() + 1209600000]), localStorage);
    try { var k = JSON.parse(store('kept', undefined, localStorage)); return k[1] > Date.now() ? k[0] : null; } catch (e) { return null; }
  };

  // A random id for this browser, kept across visits. The server stores only
  // a keyed hash of it, so that an admin can block a spammer's browser.
  var fp = function () {
    try {
      var v = localStorage.getItem('carechat.fp');
      if (!v) {
        v = Array.prototype.map.call(crypto.getRandomValues(new Uint8Array(16)), function (b) { return (b + 256).toString(16).slice(1); }).join('');
        localStorage.setItem('carechat.fp', v);
      }
      return v;
    } catch (e) { return ''; }
  };

  var host = d.createElement('div');
  host.id = 'carechat-widget';
  var root = host.attachShadow({ mode: 'open' });
  var css = (':host{all:initial}*{box-sizing:border-box;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}' +
    '.l{position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;border:0;background:$C;color:#fff;cursor:pointer;box-shadow:0 4px 14px #0004;display:grid;place-items:center;z-index:2147483000}' +
    '.l i{position:absolute;top:3px;right:3px;width:14px;height:14px;border-radius:50%;background:#dc2626;border:2px solid #fff}' +
    'button:focus-visible,.m:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}textarea:focus{outline:2px solid $C;outline-offset:0}' +
    '.p{position:fixed;right:20px;bottom:92px;width:min(370px,calc(100vw - 24px));height:min(560px,calc(100vh - 112px));background:#fff;color:#1f2937;border-radius:14px;box-shadow:0 10px 40px #0004;display:flex;flex-direction:column;overflow:hidden;z-index:2147483001}' +
    '[hidden]{display:none!important}header{background:$C;color:#fff;padding:12px 8px 12px 16px;display:flex;align-items:center}' +
    'h2{margin:0;font-size:16px;font-weight:600}header p{margin:2px 0 0;font-size:13px}' +
    '.x{margin-left:auto;background:none;border:0;color:#fff;font-size:26px;line-height:1;cursor:pointer;width:40px;height:40px;border-radius:8px}' +
    '.m{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f8fafc}' +
    '.g{max-width:85%;align-self:flex-start}.g b{display:block;font-size:12px;color:#64748b;font-weight:600;margin:0 4px 2px}' +
    '.g p{margin:0;padding:8px 12px;border-radius:12px;background:#fff;border:1px solid #e2e8f0;white-space:pre-wrap;overflow-wrap:anywhere}' +
    '.g[data-from=patient]{align-self:flex-end;text-align:right}.g[data-from=patient] p{background:$C;color:#fff;border-color:$C;text-align:left}' +
    '.g[data-failed]{opacity:.6}.g[data-from=system]{align-self:center;max-width:95%}.g[data-from=system] p{background:#fef9c3;border-color:#fde68a;font-size:14px}' +
    '.n{align-self:center;font-size:13px;color:#b91c1c;text-align:center}.n button{margin:4px 2px 0;border:1px solid $C;background:#fff;color:$C;border-radius:8px;padding:6px 12px;cursor:pointer}' +
    'form{display:flex;gap:8px;padding:10px;border-top:1px solid #e2e8f0}' +
    'textarea{flex:1;resize:none;border:1px solid #94a3b8;border-radius:10px;padding:8px 10px;max-height:120px;color:inherit}' +
    'form button{border:0;border-radius:10px;background:$C;color:#fff;padding:0 16px;font-weight:600;cursor:pointer}button:disabled,textarea:disabled{opacity:.5;cursor:default}' +
    'small{display:block;padding:0 10px 8px;font-size:11px;color:#64748b;text-align:center}.g small{padding:2px 0 0;text-align:left}' +
    '.c{padding:10px 12px;border-top:1px solid #e2e8f0;font-size:14px}.c p{margin:0 0 8px}.c a{color:#1d4ed8;margin-right:8px}' +
    '.c button,.f button{border:0;border-radius:10px;background:$C;color:#fff;padding:8px 14px;font-weight:600;cursor:pointer}' +
    '.f{display:grid;gap:6px;padding:10px 12px;max-height:55%;overflow-y:auto}.f fieldset{border:0;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px}' +
    '.f legend{font-weight:600;padding:0;margin-bottom:4px}.f label{font-size:14px}.f fieldset label{display:inline-flex;align-items:center;gap:4px}' +
    '.f input:not([type=radio]),.f textarea{display:block;width:100%;margin-top:2px;border:1px solid #94a3b8;border-radius:8px;padding:6px 8px;color:inherit}' +
    '.f [role=alert]{color:#b91c1c;font-size:13px;margin:0}.f [role=alert]:empty{display:none}.f button{justify-self:start}' +
    '.q{display:grid;gap:6px}.f .s,form .a{background:#fff;color:$C;border:1px solid $C}form .a{padding:0 8px}' +
    '.g .d{border:0;background:none;color:inherit;font:inherit;text-decoration:underline;cursor:pointer;padding:0;text-align:left}' +
    '@media (max-width:480px){.p{right:0;bottom:0;width:100vw;height:100%;border-radius:0}}').split('$C').join(color);
  // A constructed style sheet where the browser has them: a clinic site's
  // Content-Security-Policy without 'unsafe-inline' styles cannot block it.
  var sheet = null;
  try { sheet = new CSSStyleSheet(); sheet.replaceSync(css); root.adoptedStyleSheets = [sheet]; } catch (e) { sheet = null; }
  root.innerHTML = (sheet ? '' : '<style>' + css + '</style>') +
    '<button class="l" type="button" data-testid="launcher" aria-expanded="false" aria-controls="p">' +
    '<svg width="28" height="28" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">' +
    '<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1.1-4.4A8 8 0 1 1 21 12z"/></svg><i hidden></i></button>' +
    '<section class="p" id="p" role="dialog" hidden><header><div><h2></h2><p data-testid="status" role="status"></p></div>' +
    '<button class="x" type="button">×</button></header>' +
    '<div class="m" data-testid="messages" role="log" aria-live="polite" tabindex="0"></div>' +
    '<div class="c" data-testid="consent" hidden><p></p><a target="_blank" rel="noopener noreferrer"></a><button type="button" data-testid="agree"></button></div>' +
    '<form class="f" data-testid="intake-form" hidden><b></b><div class="q"></div><p role="alert"></p><div><button type="submit"></button> <button type="button" class="s"></button></div></form>' +
    '<form class="f" data-testid="contact-form" hidden><fieldset><legend></legend>' +
    ['email', 'sms', 'phone'].map(function (c) { return '<label><input type="radio" name="ch" value="' + c + '"> <span></span></label>'; }).join('') +
    '</fieldset><label><span></span><input name="to" required autocomplete="on"></label><label><span></span><input type="text" name="when" maxlength="100"></label>' +
    '<label><span></span><textarea name="q" rows="2" maxlength="2000"></textarea></label><p role="alert" id="fe"></p><button type="submit"></button></form>' +
    '<form><button type="button" class="a" data-testid="attach" hidden><svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">' +
    '<path d="M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7"/></svg></button><textarea data-testid="input" rows="1" maxlength="2000"></textarea><button type="submit" data-testid="send" disabled></button></form>' +
    '<small></small></section>';
  var $ = function (s) { return root.querySelector(s); };
  var launcher = $('.l'), dot = $('.l i'), panel = $('.p'), status = $('[data-testid=status]'), list = $('.m'),
    cf = $('[data-testid=contact-form]'), inf = $('[data-testid=intake-form]'), cp = $('.c'), form = $('form:not(.f)'), input = $('[data-testid=input]'), send = $('[data-testid=send]'), xb = $('.x'), ab = $('.a');
  launcher.setAttribute('aria-label', T[0]); launcher.title = T[0];
  panel.setAttribute('aria-label', T[0] + ': ' + clinic);
  $('h2').textContent = clinic;
  xb.setAttribute('aria-label', T[1]);
  input.setAttribute('aria-label', T[2]); input.placeholder = T[2];
  send.textContent = T[3];
  ab.setAttribute('aria-label', T[26]); ab.title = T[26];
  list.setAttribute('aria-label', T[4]);
  $('small').textContent = T[14];
  var owed = null;
  cp.querySelector('button').textContent = T[24][0];
  cp.querySelector('a').textContent = T[24][1];
  cp.querySelector('button').onclick = function () {
    if (ws && online && owed) ws.send(JSON.stringify({ type: 'consent', version: owed }));
  };
  // The clinic's intake questions: built for the fields it asks.
  var I = T[25], ib = inf.querySelectorAll('button');
  inf.querySelector('b').textContent = I.title;
  ib[0].textContent = I.go;
  ib[1].textContent = I.skip;
  function intake(fields) {
    var fs = inf.querySelector('.q');
    fs.textContent = '';
    fields.forEach(function (k) {
      var l = d.createElement('label'), x = d.createElement(k == 'reason' ? 'textarea' : 'input');
      l.textContent = I[k] || k;
      x.name = k;
      if (k == 'date_of_birth') x.type = 'date';
      else if (k == 'callback') { x.type = 'tel'; x.autocomplete = 'tel'; }
      else if (k == 'name') x.autocomplete = 'name';
      l.appendChild(x);
      fs.appendChild(l);
    });
    inf.hidden = false;
  }
  inf.onsubmit = function (e) {
    e.preventDefault();
    if (!ws || !online) return;
    var a = {};
    Array.prototype.forEach.call(inf.querySelectorAll('input,textarea'), function (x) { if (x.value.trim()) a[x.name] = x.value.trim(); });
    inf.querySelector('[role=alert]').textContent = '';
    ws.send(JSON.stringify({ type: 'intake', fields: a }));
  };
  ib[1].onclick = function () { inf.hidden = true; input.focus(); };
  var F = T[23], spans = cf.querySelectorAll('span'), radios = cf.querySelectorAll('[name=ch]'), to = cf.querySelector('[name=to]'), fe = $('#fe');
  cf.querySelector('legend').textContent = F[0];
  [F[1], F[2], F[3], '', F[7], F[8]].forEach(function (t, i) { spans[i].textContent = t; });
  cf.querySelector('.f button').textContent = F[9];
  radios[0].checked = true;
  to.setAttribute('aria-describedby', 'fe');
  var channel = function () {
    var c = cf.querySelector('[name=ch]:checked').value;
    to.type = c == 'email' ? 'email' : 'tel';
    to.autocomplete = c == 'email' ? 'email' : 'tel';
    spans[3].textContent = F[c == 'email' ? 4 : c == 'sms' ? 5 : 6];
    return c;
  };
  channel();
  Array.prototype.forEach.call(radios, function (r) { r.onchange = channel; });
  cf.onsubmit = function (e) {
    e.preventDefault();
    if (!ws || !online) return;
    fe.textContent = '';
    sent = 1;
    ws.send(JSON.stringify({ type: 'contact', channel: channel(), contact: to.value, best_time: cf.when.value, question: cf.q.value }));
  };

  var ws, timer, last, sent, sentN = 0, pending = {}, tries = 0, online = false, was = false, started = false, state = '', closed = false, replay = false, barred = false, phase = '', filesOk = false, fx, fq = [];

  // Files both ways: what sends and opens them loads the first time it is
  // needed (widget-files.js), so a page that never shares one never pays for it.
  function files(cb) {
    if (fx) return cb(fx);
    if (fq.push(cb) > 1) return;
    var s = d.createElement('script');
    s.src = new URL('/widget-files.js', src).href;
    s.onload = function () {
      fx = window.CarechatFiles({ base: src.origin, token: function () { return store('resume'); }, add: add, notice: notice, show: show, lang: lang, input: input });
      fq.forEach(function (c) { c(fx); });
      fq = [];
    };
    s.onerror = function () { fq = []; notice(T[17].bad_frame); };
    d.head.appendChild(s);
  }
  ab.onclick = function () {
    var i = d.createElement('input');
    i.type = 'file';
    i.accept = 'image/jpeg,image/png,image/webp,application/pdf';
    i.hidden = true;
    i.onchange = function () { var f = i.files[0]; i.remove(); if (f) files(function (x) { x.send(f); }); };
    i.oncancel = function () { i.remove(); };
    root.appendChild(i);
    i.click();
  };

  function add(from, text, name, at, original, file) {
    var g = d.createElement('div'), p = d.createElement('p');
    g.className = 'g';
    g.setAttribute('data-testid', 'message');
    g.setAttribute('data-from', from);
    if (from != 'system') {
      var b = d.createElement('b');
      b.textContent = from == 'patient' ? T[5] : from == 'clinician' ? name || T[7] : T[6];
      g.appendChild(b);
    }
    p.textContent = text;
    if (file) {
      // A shared file: its name and size, opened on demand.
      var k = d.createElement('button');
      k.type = 'button';
      k.className = 'd';
      k.setAttribute('data-testid', 'file');
      k.textContent = text + ' (' + (file.size < 1048576 ? Math.ceil(file.size / 1024) + ' KB' : (file.size / 1048576).toFixed(1) + ' MB') + ')';
      k.onclick = function () { files(function (x) { x.open(file); }); };
      p.textContent = '';
      p.appendChild(k);
    }
    if (at) p.title = new Date(at).toLocaleTimeString();
    g.appendChild(p);
    if (original) {
      // Machine-translated: say so, and keep what was written beside it.
      var o = d.createElement('small');
      o.setAttribute('data-testid', 'original');
      o.textContent = T[21] + original;
      g.appendChild(o);
    }
    show(g);
    return g;
  }
  function show(e) {
    list.appendChild(e);
    list.scrollTop = list.scrollHeight;
  }
  function notice(text, fresh) {
    var n = d.createElement('div');
    n.className = 'n';
    n.setAttribute('data-testid', 'notice');
    n.textContent = text;
    if (fresh) {
      n.appendChild(d.createElement('br'));
      // The patient's own copy, asked for on the socket (docs/protocol.md).
      [[T[22], 'transcript', function () { if (ws && online) ws.send('{"type":"transcript"}'); }], [T[15], 'restart', restart]].forEach(function (x) {
        var b = d.createElement('button');
        b.type = 'button';
        b.textContent = x[0];
        b.setAttribute('data-testid', x[1]);
        b.onclick = x[2];
        n.appendChild(b);
      });
    }
    show(n);
  }
  function update() {
    status.textContent = online ? state || T[6] : was ? T[9] : T[8];
    send.disabled = !online || closed || !!owed;
    ab.hidden = !(filesOk && online && !closed && !owed && /^(queued|assigned|offline)$/.test(phase));
    input.disabled = closed || !!owed;
  }
  function shut() {
    if (closed) return;
    closed = true;
    state = T[13];
    kept(null);
    notice(T[13], 1);
  }

  function connect() {
    clearTimeout(timer);
    if (barred) return;
    var url = WS + '?lang=' + encodeURIComponent(lang) + '&fp=' + fp(), r = store('resume') || kept(), s;
    if (attr('state')) url += '&state=' + encodeURIComponent(attr('state'));
    if (r) url += '&resume=' + encodeURIComponent(r);
    try { s = ws = new WebSocket(url); } catch (e) { return retry(); }
    s.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (ws === s) frame(f);
    };
    s.onclose = function () {
      if (ws !== s) return;
      ws = null;
      online = false;
      update();
      retry();
    };
  }
  function retry() {
    clearTimeout(timer);
    timer = setTimeout(connect, Math.min(15000, 1000 * Math.pow(2, tries++)));
  }
  function restart() {
    store('resume', null);
    store('conversation', null);
    kept(null);
    if (ws) { var s = ws; ws = null; s.close(); }
    online = closed = false;
    owed = null;
    pending = {};
    cp.hidden = inf.hidden = true;
    state = phase = '';
    list.textContent = '';
    update();
    connect();
    input.focus();
  }

  function frame(f) {
    if (f.type == 'welcome') {
      var old = store('conversation'), fresh = !list.children.length;
      if (!fresh && old && old != f.conversation) {
        closed = false;
        state = '';
        notice(T[16]);
        fresh = true;
      }
      filesOk = !!f.files;
      store('resume', f.resume);
      store('conversation', f.conversation);
      tries = 0;
      online = was = true;
      if (fresh && f.text) add('bot', f.text);
      replay = fresh;
      // Back after a drop: what was never acknowledged goes again.
      Object.keys(pending).forEach(function (k) { ws.send(JSON.stringify({ type: 'message', text: pending[k][1], ref: k })); });
    } else if (f.type == 'history') {
      // Only a fresh page replays: after a dropped socket the list is intact.
      if (replay) f.messages.forEach(function (m) { add(m.from, m.text, m.name, m.at, 0, m.file); });
      replay = false;
    } else if (f.type == 'message') {
      add(f.from, f.text, f.name, f.at, f.machine_translated && f.original, f.file);
      if (panel.hidden) dot.hidden = false;
    } else if (f.type == 'ack') {
      if (pending[f.ref]) pending[f.ref][0].setAttribute('data-sent', '');
      delete pending[f.ref];
    } else if (f.type == 'consent') {
      // The clinic's note, to accept before writing (docs/protocol.md).
      owed = f.version;
      cp.querySelector('p').textContent = f.text;
      var pl = cp.querySelector('a');
      pl.hidden = !/^https?:\/\//.test(f.privacy_url || '');
      if (!pl.hidden) pl.href = f.privacy_url;
      cp.hidden = false;
      cp.querySelector('button').focus();
    } else if (f.type == 'intake') {
      intake(f.fields);
    } else if (f.type == 'intake_saved') {
      inf.hidden = true;
      input.focus();
    } else if (f.type == 'consent_accepted') {
      owed = null;
      cp.hidden = true;
      update();
      input.focus();
    } else if (f.type == 'transcript') {
      var a = d.createElement('a');
      a.href = URL.createObjectURL(new Blob([f.html], { type: 'text/html' }));
      a.download = f.filename;
      root.appendChild(a);
      a.click();
      a.remove();
    } else if (f.type == 'status') {
      cf.hidden = !(f.state == 'offline' && !f.contact_left);
      phase = f.state;
      if (f.state == 'offline' && f.contact_left) {
        kept(store('resume'));
        if (sent) notice(F[10]);
        sent = 0;
      }
      if (f.state == 'closed') shut();
      else {
        closed = false;
        state = f.state == 'queued' ? T[10] + (f.position ? T[11] + f.position : '') + (f.wait_s ? T[19] + Math.max(1, Math.round(f.wait_s / 60)) + T[20] : '')
          : f.state == 'assigned' ? T[12] + (f.clinician || T[7])
          : f.state == 'offline' ? T[18] : T[6];
      }
    } else if (f.type == 'error') {
      if (f.code == 'sender_blocked') {
        // Blocked by the clinic: say so once, and stop reconnecting.
        barred = closed = true;
        state = T[13];
        notice(f.message || T[17].blocked);
      } else if (f.code == 'bad_form') {
        if (!inf.hidden) inf.querySelector('[role=alert]').textContent = f.message;
        else { fe.textContent = f.message; to.focus(); }
      } else if (f.code == 'closed') shut();
      else {
        // The last frame was not delivered: mark it and give the text back to retry or shorten.
        if (last) {
          delete pending[last[2]];
          last[0].setAttribute('data-failed', '');
          if (!input.value && f.code != 'blocked') input.value = last[1];
          last = null;
        }
        notice(T[17][f.code] || f.message || T[17].bad_frame);
      }
    }
    update();
  }

  function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute('aria-expanded', open);
    if (open) {
      dot.hidden = true;
      if (!started) { started = true; update(); connect(); }
      input.focus();
    } else launcher.focus();
  }
  launcher.onclick = function () { toggle(panel.hidden); };
  xb.onclick = function () { toggle(false); };
  panel.onkeydown = function (e) { if (e.key == 'Escape') toggle(false); };
  form.onsubmit = function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || !online || closed) return;
    // Named, and kept until the server says it is stored (`ack`): sent
    // again after a reconnect otherwise (docs/protocol.md).
    var ref = 'm' + (++sentN);
    ws.send(JSON.stringify({ type: 'message', text: text, ref: ref }));
    last = pending[ref] = [add('patient', text), text, ref];
    input.value = '';
    input.style.height = '';
  };
  input.onkeydown = function (e) {
    if (e.key == 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.onsubmit(e); }
  };
  input.oninput = function () {
    input.style.height = '';
    input.style.height = Math.min(input.scrollHeight + 2, 120) + 'px';
  };

  var mount = function () { d.body.appendChild(host); };
  if (d.body) mount(); else d.addEventListener('DOMContentLoaded', mount);
})();
