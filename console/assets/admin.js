// Carechat administration: staff accounts (admins) and the audit trail
// (admins and auditors), over the same API and session as the console.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var me = null;
  var oldest = null; // the smallest audit id shown, for "Older entries"

  async function api(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    var res = await fetch(path, opts);
    var data = null;
    if (res.status !== 204) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (!res.ok) {
      var info = (data && data.error) || {};
      var err = new Error(info.message || 'Request failed (HTTP ' + res.status + ').');
      err.status = res.status;
      err.code = info.code;
      err.data = data;
      throw err;
    }
    return data;
  }

  function banner(text) {
    $('banner-text').textContent = text;
    $('banner').hidden = false;
  }
  function fail(e) {
    if (e && e.status === 401) { location.reload(); return; }
    banner(e && e.message ? e.message : 'Something went wrong.');
  }
  $('banner-close').addEventListener('click', function () { $('banner').hidden = true; });

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function button(label, cls, onClick) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = cls || 'ghost small';
    b.textContent = label;
    b.addEventListener('click', onClick);
    return b;
  }

  // ---------- accounts ----------

  function state(u) {
    if (u.removed_at) return 'removed';
    if (u.disabled_at) return 'disabled';
    if (u.locked_until) return 'locked';
    return 'active';
  }

  async function change(u, path, body, method) {
    try {
      await api(method || 'POST', '/api/users/' + u.id + path, body === undefined ? {} : body);
      await loadUsers();
      $('banner').hidden = true;
    } catch (e) { fail(e); }
  }

  function userRow(u) {
    var tr = document.createElement('tr');
    tr.setAttribute('data-user', u.username);
    cell(tr, u.username);
    cell(tr, u.display_name);
    cell(tr, u.role);
    var s = state(u);
    cell(tr, s, 'state-' + s).setAttribute('data-testid', 'user-state');
    cell(tr, u.skills.join(', '));
    cell(tr, u.languages.join(', '));
    cell(tr, u.licensed_states.join(', '));
    cell(tr, u.max_chats);
    cell(tr, u.email || '');
    var actions = cell(tr, '', 'actions');
    if (u.removed_at) return tr;
    if (u.id !== me.id) {
      actions.appendChild(u.disabled_at
        ? button('Enable', 'ghost small', function () { change(u, '/enable'); })
        : button('Disable', 'danger small', function () {
          if (confirm('Disable ' + u.username + '? Their sessions end at once.')) change(u, '/disable');
        }));
    }
    if (u.locked_until) actions.appendChild(button('Unlock', 'ghost small', function () { change(u, '/unlock'); }));
    actions.appendChild(button('Edit', 'ghost small', function () {
      var role = prompt('Role (clinician, admin, auditor). A new role ends their sessions.', u.role);
      if (role === null) return;
      var skills = prompt('Skills, comma-separated', u.skills.join(','));
      if (skills === null) return;
      var languages = prompt('Languages, comma-separated (es:basic for a level)', u.languages.join(','));
      if (languages === null) return;
      var states = prompt('Licensed in (two-letter states, comma-separated)', u.licensed_states.join(','));
      if (states === null) return;
      var email = prompt('Email for waiting chats (empty: none)', u.email || '');
      if (email === null) return;
      var body = { skills: skills, languages: languages, licensed_states: states, email: email };
      if (role.trim() !== u.role) body.role = role.trim();
      change(u, '', body, 'PATCH');
    }));
    actions.appendChild(button('Reset password', 'ghost small', function () {
      var pw = prompt('New password for ' + u.username + ' (12 characters or more). Their sessions end.');
      if (pw) change(u, '/password', { password: pw });
    }));
    if (u.id !== me.id) {
      actions.appendChild(button('Remove', 'danger small', function () {
        if (confirm('Remove ' + u.username + ' for good? The name stays taken and the audit trail keeps it.')) {
          change(u, '', undefined, 'DELETE');
        }
      }));
    }
    return tr;
  }

  async function loadUsers() {
    var r = await api('GET', '/api/users');
    var body = $('users');
    body.textContent = '';
    r.users.forEach(function (u) { body.appendChild(userRow(u)); });
  }

  $('add-user').addEventListener('submit', async function (e) {
    e.preventDefault();
    var body = {
      username: $('new-username').value.trim(),
      password: $('new-password').value,
      role: $('new-role').value,
      skills: $('new-skills').value,
      languages: $('new-languages').value,
      licensed_states: $('new-states').value,
    };
    if ($('new-display').value.trim()) body.display_name = $('new-display').value.trim();
    if ($('new-email').value.trim()) body.email = $('new-email').value.trim();
    try {
      await api('POST', '/api/users', body);
      this.reset();
      $('new-languages').value = 'en';
      $('banner').hidden = true;
      await loadUsers();
    } catch (x) { fail(x); }
  });

  // ---------- audit trail ----------

  function auditQuery() {
    var q = new URLSearchParams();
    ['actor', 'action', 'subject'].forEach(function (k) {
      var v = $('f-' + k).value.trim();
      if (v) q.set(k, v);
    });
    // datetime-local is the browser's local time: sent as UTC.
    ['since', 'until'].forEach(function (k) {
      var v = $('f-' + k).value;
      if (v) q.set(k, new Date(v).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    });
    return q;
  }

  function exportLinks() {
    var q = auditQuery();
    ['csv', 'jsonl'].forEach(function (f) {
      q.set('format', f);
      $('export-' + f).href = '/api/audit/export?' + q.toString();
    });
  }

  async function loadAudit(more) {
    var q = auditQuery();
    q.set('limit', '200');
    if (more && oldest !== null) q.set('before', String(oldest));
    var r = await api('GET', '/api/audit?' + q.toString());
    var body = $('audit');
    if (!more) body.textContent = '';
    r.entries.forEach(function (e) {
      var tr = document.createElement('tr');
      cell(tr, e.at.replace('T', ' ').replace('Z', ''));
      var who = e.actor || (e.actor_id == null
        ? (/\bvia=cli\b/.test(e.detail) ? '(command line)' : '(server)')
        : '#' + e.actor_id);
      cell(tr, who);
      cell(tr, e.action);
      cell(tr, e.subject);
      cell(tr, e.detail);
      cell(tr, e.address || '');
      body.appendChild(tr);
      oldest = e.id;
    });
    $('audit-empty').hidden = body.children.length > 0;
    $('audit-more').hidden = r.entries.length < 200;
    exportLinks();
  }

  $('audit-filter').addEventListener('submit', function (e) {
    e.preventDefault();
    oldest = null;
    loadAudit(false).catch(fail);
  });
  $('audit-filter').addEventListener('input', exportLinks);
  $('audit-more').addEventListener('click', function () { loadAudit(true).catch(fail); });

  // ---------- own two-factor sign-in ----------

  $('mfa-start').addEventListener('click', async function () {
    try {
      var r = await api('POST', '/api/me/mfa', {});
      $('mfa-secret').textContent = r.secret;
      $('mfa-qr').src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(r.qr_svg);
      $('mfa-uri').href = r.uri;
      $('mfa-setup').hidden = false;
      $('mfa-done').hidden = true;
      $('mfa-code').focus();
    } catch (e) { fail(e); }
  });

  $('mfa-confirm').addEventListener('submit', async function (e) {
    e.preventDefault();
    try {
      var r = await api('POST', '/api/me/mfa/confirm', { code: $('mfa-code').value.trim() });
      $('mfa-setup').hidden = true;
      $('mfa-codes').textContent = r.recovery_codes.join('\n');
      $('mfa-done').hidden = false;
      this.reset();
    } catch (x) { fail(x); }
  });

  // ---------- own password, logout ----------

  $('own-password').addEventListener('submit', async function (e) {
    e.preventDefault();
    try {
      await api('POST', '/api/me/password', { current: $('pw-current').value, new: $('pw-new').value });
      this.reset();
      banner('Your password is changed; your other sessions have ended.');
    } catch (x) { fail(x); }
  });

  $('logout').addEventListener('click', async function () {
    try { await api('POST', '/api/logout'); } catch (e) { /* signed out either way */ }
    location.href = '/console';
  });

  // ---------- the workbench: what the bot says (admins) ----------

  var bench = null;   // GET /api/whitelist
  var editing = null; // the intent open in the form, or {} for a new one

  function shown() { return bench.draft || bench.live; }
  function lines(text) { return text.split('\n').map(function (l) { return l.trim(); }).filter(Boolean); }

  function renderBench() {
    var d = bench.draft;
    $('bench-status').textContent = d
      ? 'Showing the draft (based on version ' + d.base + ', changed ' + new Date(d.updated_at).toLocaleString() +
        '). Patients still get version ' + bench.live_version + ' until it is published.'
      : 'Showing version ' + bench.live_version + ', which patients get. Edits make a draft.';
    $('bench-publish').disabled = $('bench-discard').disabled = !d;
    var q = $('bench-search').value.trim().toLowerCase(), body = $('bench-intents');
    body.textContent = '';
    shown().intents.filter(function (i) {
      return !q || [i.id, i.title, i.skill, i.replies.en].concat(i.examples).join('\n').toLowerCase().indexOf(q) >= 0;
    }).forEach(function (i) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-intent', i.id);
      cell(tr, i.id + (i.urgent ? ' (emergency)' : ''));
      cell(tr, i.title);
      cell(tr, i.skill);
      cell(tr, i.examples.length);
      cell(tr, i.replies.en);
      var td = cell(tr, '', 'actions');
      td.appendChild(button('Edit', 'ghost small', function () { openIntent(i); }));
      body.appendChild(tr);
    });
    renderMessages();
    $('bench-tests-text').value = (shown().clinic_tests || []).map(function (c) {
      return c.intent ? c.text + ' => ' + c.intent : c.text;
    }).join('\n');
  }

  // The bot-wide messages: one box per message, a line per language.
  var MESSAGES = ['consent', 'welcome', 'escalate', 'queued', 'urgent', 'assigned', 'offline', 'held', 'blocked', 'closed'];
  function renderMessages() {
    var form = $('bench-messages'), m = shown().messages;
    form.textContent = '';
    MESSAGES.forEach(function (name) {
      var label = document.createElement('label');
      label.className = 'wide';
      label.textContent = name;
      var t = document.createElement('textarea');
      t.rows = 2;
      t.id = 'bench-message-' + name;
      t.setAttribute('data-testid', 'bench-message-' + name);
      t.value = Object.keys(m[name] || {}).map(function (l) { return l + ': ' + m[name][l]; }).join('\n');
      label.appendChild(t);
      form.appendChild(label);
    });
    var actions = document.createElement('div');
    actions.className = 'bench-actions';
    var save = document.createElement('button');
    save.type = 'submit';
    save.className = 'primary';
    save.textContent = 'Save the messages to the draft';
    save.setAttribute('data-testid', 'bench-messages-save');
    actions.appendChild(save);
    form.appendChild(actions);
  }

  function byLanguage(text) {
    var out = {};
    lines(text).forEach(function (l) {
      var at = l.indexOf(':');
      if (at > 0) out[l.slice(0, at).trim()] = l.slice(at + 1).trim();
    });
    return out;
  }

  $('bench-messages').addEventListener('submit', async function (e) {
    e.preventDefault();
    var body = {};
    MESSAGES.forEach(function (name) { body[name] = byLanguage($('bench-message-' + name).value); });
    try { bench = await api('PUT', '/api/whitelist/draft/messages', body); renderBench(); } catch (x) { fail(x); }
  });

  $('bench-tests').addEventListener('submit', async function (e) {
    e.preventDefault();
    var cases = lines($('bench-tests-text').value).map(function (l) {
      var at = l.lastIndexOf('=>');
      return at > 0 ? { text: l.slice(0, at).trim(), intent: l.slice(at + 2).trim() } : { text: l };
    });
    try { bench = await api('PUT', '/api/whitelist/draft/tests', { cases: cases }); renderBench(); } catch (x) { fail(x); }
  });

  var DECISIONS = {
    answer: 'Answers', escalate: 'Hands over to a person', urgent: 'Emergency: urgent to a person',
    hold: 'Holds for staff (looks like spam)', block: 'Blocks as spam'
  };
  $('bench-try').addEventListener('submit', async function (e) {
    e.preventDefault();
    var box = $('bench-tried');
    box.textContent = 'Asking the ' + (bench.draft ? 'draft' : 'live version') + '… the first try after an edit builds its bot.';
    try {
      var r = await api('POST', '/api/whitelist/draft/try', { text: $('bench-try-text').value });
      box.textContent = '';
      var p = document.createElement('p');
      p.setAttribute('data-testid', 'bench-decision');
      p.textContent = (DECISIONS[r.action] || r.action) +
        (r.intent ? ': ' + (r.title || r.intent) + ' (' + r.intent + ')' : '') +
        ', confidence ' + Math.round(r.confidence * 100) + '%' +
        (r.reason ? ', because: ' + r.reason.replace(/_/g, ' ') : '') +
        ' [' + (r.draft ? 'draft' : 'live') + ', ' + r.language + ']';
      box.appendChild(p);
      var reply = document.createElement('p');
      reply.setAttribute('data-testid', 'bench-tried-reply');
      reply.textContent = 'The patient is told: ' + r.reply;
      box.appendChild(reply);
      if (r.alternatives.length) {
        var alt = document.createElement('p');
        alt.className = 'muted';
        alt.textContent = 'Next best: ' + r.alternatives.map(function (a) {
          return (a.title || a.intent) + ' ' + Math.round(a.confidence * 100) + '%';
        }).join(', ');
        box.appendChild(alt);
      }
    } catch (x) { box.textContent = ''; fail(x); }
  });

  function openIntent(i) {
    editing = i || {};
    $('bench-form').hidden = false;
    $('bench-form-title').textContent = i ? 'Edit ' + i.id : 'New intent';
    $('bench-id').value = i ? i.id : '';
    $('bench-id').readOnly = !!i;
    $('bench-title-input').value = i ? i.title : '';
    $('bench-skill').value = i ? i.skill : 'front_desk';
    $('bench-handoff').checked = !!(i && i.handoff);
    $('bench-examples').value = i ? i.examples.join('\n') : '';
    $('bench-validation').value = i ? (i.validation || []).join('\n') : '';
    $('bench-replies').value = i ? Object.keys(i.replies).map(function (l) { return l + ': ' + i.replies[l]; }).join('\n') : 'en: ';
    $('bench-delete').hidden = !i;
    $('bench-title-input').focus();
  }

  async function loadBench() {
    bench = await api('GET', '/api/whitelist');
    renderBench();
    var r = await api('GET', '/api/whitelist/versions'), body = $('bench-versions');
    body.textContent = '';
    r.versions.forEach(function (v) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-version', v.id);
      cell(tr, v.id);
      cell(tr, new Date(v.created_at).toLocaleString());
      cell(tr, v.note + (v.override_reason ? ' (past the gate: ' + v.override_reason + ')' : ''));
      cell(tr, v.live ? 'live' : '');
      var td = cell(tr, '', 'actions');
      if (!v.live) {
        td.appendChild(button('Make live again', 'ghost small', async function () {
          if (!window.confirm('Make version ' + v.id + ' live again? Patients get it at once.')) return;
          $('bench-report').textContent = 'Putting version ' + v.id + ' back…';
          try {
            await api('POST', '/api/whitelist/rollback', { version: v.id });
            $('bench-report').textContent = 'Version ' + v.id + ' is live again.';
            await loadBench();
          } catch (e) { $('bench-report').textContent = ''; fail(e); }
        }));
      }
      body.appendChild(tr);
    });
  }

  $('bench-search').addEventListener('input', renderBench);
  $('bench-new').addEventListener('click', function () { openIntent(null); });
  $('bench-cancel').addEventListener('click', function () { $('bench-form').hidden = true; });
  $('bench-form').addEventListener('submit', async function (e) {
    e.preventDefault();
    var replies = {};
    lines($('bench-replies').value).forEach(function (l) {
      var at = l.indexOf(':');
      if (at > 0) replies[l.slice(0, at).trim()] = l.slice(at + 1).trim();
    });
    var body = Object.assign({}, editing, {
      title: $('bench-title-input').value.trim(),
      skill: $('bench-skill').value.trim(),
      handoff: $('bench-handoff').checked,
      examples: lines($('bench-examples').value),
      validation: lines($('bench-validation').value),
      replies: replies,
    });
    delete body.id;
    try {
      bench = await api('PUT', '/api/whitelist/draft/intents/' + encodeURIComponent($('bench-id').value.trim()), body);
      $('bench-form').hidden = true;
      renderBench();
    } catch (x) { fail(x); }
  });
  $('bench-delete').addEventListener('click', async function () {
    if (!editing || !editing.id || !window.confirm('Delete ' + editing.id + ' from the draft?')) return;
    try {
      bench = await api('DELETE', '/api/whitelist/draft/intents/' + encodeURIComponent(editing.id));
      $('bench-form').hidden = true;
      renderBench();
    } catch (x) { fail(x); }
  });
  $('bench-discard').addEventListener('click', async function () {
    if (!window.confirm('Throw the draft away?')) return;
    try { await api('DELETE', '/api/whitelist/draft'); await loadBench(); } catch (x) { fail(x); }
  });

  // The gate's figures, before (live) and after (draft), set by set.
  function report(evaluation, refused) {
    var box = $('bench-report');
    box.textContent = '';
    var head = document.createElement('p');
    head.className = refused ? 'refused' : '';
    head.setAttribute('data-testid', 'bench-verdict');
    head.textContent = refused
      ? 'Not published: ' + evaluation.reasons.join('; ') + '.'
      : 'Published: patients get it now.';
    box.appendChild(head);
    var t = document.createElement('table');
    t.className = 'grid';
    var tr = document.createElement('tr');
    ['Set', 'Questions', 'Right', 'Wrong', 'To a person', 'Out of scope answered'].forEach(function (h) {
      var th = document.createElement('th'); th.scope = 'col'; th.textContent = h; tr.appendChild(th);
    });
    t.appendChild(tr);
    evaluation.sets.forEach(function (s) {
      var row = document.createElement('tr');
      var both = function (k) { return s.before[k] + ' → ' + s.after[k]; };
      cell(row, s.set);
      cell(row, s.after.in_scope + s.after.out_of_scope);
      cell(row, both('right'));
      cell(row, both('wrong'));
      cell(row, both('escalated'));
      cell(row, both('out_of_scope_answered'));
      t.appendChild(row);
    });
    box.appendChild(t);
  }

  async function publish(reason) {
    var b = $('bench-publish');
    b.disabled = true;
    $('bench-report').textContent = 'Building and testing the draft against the live version… this takes a minute.';
    try {
      var r = await api('POST', '/api/whitelist/publish', reason ? { override_reason: reason } : {});
      report(r.evaluation, false);
      await loadBench();
    } catch (e) {
      if (e.code === 'gate_refused' && e.data) {
        report(e.data.evaluation, true);
        var why = window.prompt('The draft did worse on the tests. To publish it anyway, say why (10 to 200 characters; recorded):');
        if (why && why.trim()) return publish(why.trim());
      } else {
        $('bench-report').textContent = '';
        fail(e);
      }
    } finally {
      b.disabled = !bench.draft;
    }
  }
  $('bench-publish').addEventListener('click', function () { publish(null); });

  // ---------- shared canned replies ----------

  async function loadCanned() {
    var r = await api('GET', '/api/canned'), body = $('canned-rows');
    body.textContent = '';
    r.replies.filter(function (c) { return c.shared; }).forEach(function (c) {
      var tr = document.createElement('tr');
      cell(tr, c.title);
      cell(tr, c.language);
      cell(tr, c.body);
      var td = cell(tr, '', 'actions');
      td.appendChild(button('Delete', 'ghost small', async function () {
        if (!window.confirm('Delete the shared reply "' + c.title + '"?')) return;
        try { await api('DELETE', '/api/canned/' + c.id); await loadCanned(); } catch (x) { fail(x); }
      }));
      body.appendChild(tr);
    });
  }

  $('canned-form').addEventListener('submit', async function (e) {
    e.preventDefault();
    try {
      await api('POST', '/api/canned', {
        shared: true,
        language: $('canned-language').value,
        title: $('canned-title-input').value,
        body: $('canned-body').value
      });
      $('canned-title-input').value = '';
      $('canned-body').value = '';
      await loadCanned();
    } catch (x) { fail(x); }
  });

  // ---------- dashboard ----------

  function secs(v) {
    if (v == null) return '–';
    return v < 90 ? v + ' s' : Math.round(v / 60) + ' min';
  }

  var SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  // Bars per bucket: chats, answered by the bot, to a person.
  var SERIES = [['chats', 'Chats', '#1d4ed8'], ['answered', 'Answered by the bot', '#15803d'], ['escalated', 'To a person', '#b45309']];
  function chart(d) {
    var box = $('dash-chart');
    box.textContent = '';
    var w = 960, h = 200, pad = 28, n = d.rows.length || 1;
    var max = Math.max.apply(null, [1].concat(d.rows.map(function (r) {
      return Math.max(r.chats, r.answered, r.escalated);
    })));
    var s = svg('svg', { viewBox: '0 0 ' + w + ' ' + (h + pad), width: '100%', role: 'img',
      'aria-label': 'Chats, answered by the bot and sent to a person per ' + d.bucket + ': ' +
        d.totals.chats + ', ' + d.totals.answered + ' and ' + d.totals.escalated + ' in all' });
    var slot = (w - pad) / n, bar = Math.max(1, slot / 4);
    d.rows.forEach(function (r, i) {
      SERIES.forEach(function (ser, j) {
        var v = r[ser[0]], bh = (v / max) * h;
        if (!v) return;
        var rect = svg('rect', { x: pad + i * slot + j * bar, y: h - bh, width: bar - 0.5, height: bh, fill: ser[2] });
        var title = svg('title', {});
        title.textContent = new Date(r.start * 1000).toLocaleString() + ': ' + ser[1] + ' ' + v;
        rect.appendChild(title);
        s.appendChild(rect);
      });
    });
    s.appendChild(svg('line', { x1: pad, y1: h, x2: w, y2: h, stroke: '#64748b' }));
    var top = svg('text', { x: 0, y: 12, 'font-size': 12, fill: '#334155' });
    top.textContent = String(max);
    s.appendChild(top);
    box.appendChild(s);
    var legend = document.createElement('p');
    legend.className = 'muted';
    SERIES.forEach(function (ser) {
      var k = document.createElement('span');
      k.className = 'legend';
      k.style.borderLeftColor = ser[2];
      k.textContent = ser[1];
      legend.appendChild(k);
    });
    box.appendChild(legend);
  }

  async function loadDashboard() {
    var bucket = $('dash-bucket').value;
    var offset = -new Date().getTimezoneOffset() * 60;
    var q = '?bucket=' + bucket + '&offset=' + offset;
    $('dash-csv').href = '/api/dashboard' + q + '&format=csv';
    var d = await api('GET', '/api/dashboard' + q);
    chart(d);
    var t = d.totals, body = $('dash-totals');
    body.textContent = '';
    var tr = document.createElement('tr');
    [t.chats, t.answered, t.escalated, t.urgent, t.held, t.blocked, t.left_message,
      secs(t.wait_p50) + ' / ' + secs(t.wait_p95), secs(t.first_reply_p50) + ' / ' + secs(t.first_reply_p95)]
      .forEach(function (v) { cell(tr, v); });
    body.appendChild(tr);
    var reasons = Object.keys(t.escalated_by_reason);
    $('dash-reasons').textContent = reasons.length ? 'To a person because: ' + reasons.map(function (k) {
      return k.replace(/_/g, ' ') + ' ' + t.escalated_by_reason[k];
    }).join(', ') : '';
    body = $('dash-intents');
    body.textContent = '';
    d.intents.forEach(function (i) {
      var row = document.createElement('tr');
      cell(row, (i.title || i.intent) + ' (' + i.intent + ')');
      cell(row, i.turns);
      cell(row, i.answered);
      cell(row, Math.round(i.rate * 100) + '%');
      body.appendChild(row);
    });
    body = $('dash-load');
    body.textContent = '';
    d.clinicians.forEach(function (c) {
      var row = document.createElement('tr');
      cell(row, c.name || 'account ' + c.user);
      cell(row, c.chats);
      cell(row, c.first_replies);
      cell(row, secs(c.first_reply_p50));
      body.appendChild(row);
    });
  }

  $('dash-filter').addEventListener('submit', function (e) {
    e.preventDefault();
    loadDashboard().catch(fail);
  });

  // ---------- start ----------

  api('GET', '/api/me').then(async function (r) {
    me = r.user;
    $('loading').hidden = true;
    $('app').hidden = false;
    $('me-name').textContent = me.display_name + ' (' + me.role + ')';
    // Clinicians come here for their own account only: password, second factor.
    $('to-console').hidden = me.role === 'auditor';
    $('users-section').hidden = me.role !== 'admin';
    $('bench-section').hidden = me.role !== 'admin';
    $('canned-section').hidden = me.role !== 'admin';
    $('dash-section').hidden = me.role !== 'admin';
    $('audit-section').hidden = me.role === 'clinician';
    try {
      if (me.role === 'admin') await loadUsers();
      if (me.role === 'admin') await loadBench();
      if (me.role === 'admin') await loadCanned();
      if (me.role === 'admin') await loadDashboard();
      if (me.role !== 'clinician') await loadAudit(false);
    } catch (e) { fail(e); }
  }, function (e) {
    $('loading').hidden = true;
    if (e.status === 401) { $('signed-out').hidden = false; return; }
    banner(e.message);
  });
})();
