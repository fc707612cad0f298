/* Carechat widget: files both ways, loaded by widget.js the first time a
   patient sends or opens a file. The patient's chat is opened by its resume
   token (Authorization: Bearer), never a cookie: docs/files.md. */
(function () {
  'use strict';
  var L = {
    en: { sending: 'Sending ', failed: 'The file could not be sent.', open: 'The file could not be opened.',
      codes: {} },
    es: { sending: 'Enviando ', failed: 'No se pudo enviar el archivo.', open: 'No se pudo abrir el archivo.',
      codes: { file_refused: 'Solo se pueden enviar fotos (JPEG, PNG, WebP) y documentos PDF.',
        file_too_large: 'El archivo es demasiado grande.',
        file_infected: 'El antivirus encontró una amenaza en este archivo y no se envió.',
        scanner_unavailable: 'Ahora no se pueden revisar los archivos en busca de virus. Inténtelo más tarde.' } }
  };
  window.CarechatFiles = function (w) {
    var d = document, T = L[w.lang.slice(0, 2).toLowerCase()] || L.en;
    // The server's words, in the patient's language where it has them.
    var said = function (body, fallback) {
      try { var e = JSON.parse(body).error; return T.codes[e.code] || e.message || fallback; } catch (x) { return fallback; }
    };
    return {
      // Sends `file`, showing its progress as the patient's own message.
      send: function (file) {
        var g = d.createElement('div'), p = d.createElement('p'), bar = d.createElement('progress');
        g.className = 'g';
        g.setAttribute('data-from', 'patient');
        g.setAttribute('data-testid', 'upload');
        p.textContent = T.sending + file.name + '…';
        bar.max = 100;
        bar.value = 0;
        bar.setAttribute('aria-label', T.sending + file.name);
        p.appendChild(d.createElement('br'));
        p.appendChild(bar);
        g.appendChild(p);
        w.show(g);
        var x = new XMLHttpRequest();
        x.open('POST', w.base + '/api/patient/files?name=' + encodeURIComponent(file.name));
        x.setRequestHeader('Authorization', 'Bearer ' + w.token());
        x.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
        x.onload = function () {
          g.remove();
          if (x.status == 200) {
            var f = JSON.parse(x.responseText).file;
            w.add('patient', '📎 ' + f.name, null, new Date().toISOString(), 0, f);
          } else w.notice(said(x.responseText, T.failed));
          w.input.focus();
        };
        x.onerror = function () { g.remove(); w.notice(T.failed); };
        x.send(file);
      },
      // Saves a file of the chat to the patient's device.
      open: function (file) {
        fetch(w.base + '/api/patient/files/' + file.id, { headers: { Authorization: 'Bearer ' + w.token() } })
          .then(function (r) {
            if (!r.ok) return r.text().then(function (t) { throw said(t, T.open); });
            return r.blob();
          })
          .then(function (b) {
            var a = d.createElement('a'), url = URL.createObjectURL(b);
            a.href = url;
            a.download = file.name;
            a.hidden = true;
            d.body.appendChild(a);
            a.click();
            a.remove();
            setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
          })
          .catch(function (m) { w.notice(typeof m == 'string' ? m : T.open); });
      }
    };
  };
})();
