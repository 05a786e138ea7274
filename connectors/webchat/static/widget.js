/* eadesk web chat widget: one <script src=".../webchat/widget.js" async>, no framework.
 * Wire protocol: the server's /webchat/api/* and /webchat/ws (see the project's README).
 * Everything the visitor or an operator wrote is rendered with DOM nodes and textContent,
 * never innerHTML; only http(s) and mailto links are clickable. */
(function () {
  "use strict";
  if (window.eadesk && window.eadesk.__eadesk) return;

  var script = document.currentScript;
  if (!script) {
    var all = document.querySelectorAll("script[src]");
    for (var s = 0; s < all.length; s++) {
      if (/\/webchat\/widget\.js(\?|#|$)/.test(all[s].src)) script = all[s];
    }
  }
  var BASE = script ? script.src.replace(/\/webchat\/widget\.js([?#].*)?$/, "") : location.origin;
  var WS_BASE = BASE.replace(/^http/, "ws");
  var TOKEN_KEY = "eadesk.token";
  var CURSOR_KEY = "eadesk.cursor";

  var RU = /^ru\b/i.test(navigator.language || "");
  var T = RU
    ? {
        open: "Чат с поддержкой", close: "Закрыть", placeholder: "Напишите сообщение…",
        send: "Отправить", attach: "Прикрепить файл", you: "Вы", support: "Поддержка",
        tooLarge: "Файл «{name}» слишком большой: не больше {limit}.",
        tooLong: "Сообщение слишком длинное: не больше {limit} символов.",
        rate: "Слишком часто. Попробуйте через {s} с.",
        identity: "Не удалось подтвердить вашу учётную запись. Обновите страницу или войдите снова.",
        emailAsk: "Оставьте e-mail, чтобы мы могли ответить, даже если вы закроете страницу.",
        emailRequired: "Оставьте e-mail, чтобы начать чат.", emailBad: "Проверьте адрес e-mail.",
        emailSave: "Продолжить", emailSkip: "Пропустить", offline: "Нет связи, переподключаемся…",
        failed: "Не удалось отправить. Повторим, как появится связь.", sending: "отправляется…",
        error: "Что-то пошло не так. Попробуйте ещё раз.", empty: "Здравствуйте! Чем можем помочь?",
      }
    : {
        open: "Chat with support", close: "Close", placeholder: "Type a message…",
        send: "Send", attach: "Attach a file", you: "You", support: "Support",
        tooLarge: "The file “{name}” is too large: the limit is {limit}.",
        tooLong: "The message is too long: at most {limit} characters.",
        rate: "Too many messages. Try again in {s} s.",
        identity: "We could not verify your account. Reload the page or sign in again.",
        emailAsk: "Leave your e-mail so we can answer even if you close this page.",
        emailRequired: "Leave your e-mail to start the chat.", emailBad: "Check the e-mail address.",
        emailSave: "Continue", emailSkip: "Skip", offline: "Connection lost, reconnecting…",
        failed: "Not sent yet. We will retry when the connection is back.", sending: "sending…",
        error: "Something went wrong. Please try again.", empty: "Hello! How can we help?",
      };

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] == null ? "" : String(values[key]);
    });
  }

  function bytes(n) {
    if (n >= 1048576) return Math.round((n / 1048576) * 10) / 10 + (RU ? " МБ" : " MB");
    if (n >= 1024) return Math.round(n / 1024) + (RU ? " КБ" : " KB");
    return n + (RU ? " Б" : " B");
  }

  var store = {
    get: function (k) {
      try { return window.localStorage.getItem(k); } catch (e) { return null; }
    },
    set: function (k, v) {
      try { window.localStorage.setItem(k, v); } catch (e) { /* private mode */ }
    },
    del: function (k) {
      try { window.localStorage.removeItem(k); } catch (e) { /* private mode */ }
    },
  };

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function page() {
    var tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* old */ }
    return {
      url: location.href, title: document.title, referrer: document.referrer,
      lang: navigator.language || "", tz: tz,
    };
  }

  // ---- HTTP -------------------------------------------------------------------------------

  function api(method, path, body, isForm) {
    var init = { method: method, credentials: "omit", headers: {} };
    if (body !== undefined) {
      if (isForm) init.body = body;
      else {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    return fetch(BASE + path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        return { status: r.status, ok: r.ok, data: data || {} };
      });
    });
  }

  // ---- DOM --------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "class") node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      }
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;",
    "border:0;background:var(--c);color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);",
    "z-index:2147483000;display:flex;align-items:center;justify-content:center}",
    ".launcher svg{width:26px;height:26px;fill:#fff}",
    ".panel{position:fixed;right:20px;bottom:88px;width:360px;max-width:calc(100vw - 24px);",
    "height:520px;max-height:calc(100vh - 110px);background:#fff;color:#1d1d1f;border-radius:12px;",
    "box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;",
    "z-index:2147483000;font-size:14px;line-height:1.4}",
    ".panel[hidden],.email[hidden],.notice[hidden],.composer[hidden]{display:none}",
    ".head{background:var(--c);color:#fff;padding:12px 14px;display:flex;align-items:center}",
    ".title{flex:1;font-weight:600;font-size:15px}",
    ".x{background:none;border:0;color:#fff;font-size:20px;cursor:pointer;line-height:1}",
    ".notice{background:#fff4e5;color:#8a4b00;padding:8px 12px;font-size:13px}",
    ".notice.bad{background:#fdecea;color:#a4161a}",
    ".list{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;",
    "background:#f6f7f9}",
    ".empty{color:#777;text-align:center;margin-top:20px}",
    ".msg{max-width:82%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;",
    "overflow-wrap:anywhere}",
    ".msg.visitor{align-self:flex-end;background:var(--c);color:#fff}",
    ".msg.operator{align-self:flex-start;background:#fff;border:1px solid #e3e5e8}",
    ".msg.pending{opacity:.6}",
    ".meta{font-size:11px;opacity:.75;margin-top:4px}",
    ".msg.visitor a{color:#fff}",
    ".msg code,.msg pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;",
    "background:rgba(0,0,0,.07);border-radius:4px;padding:0 3px}",
    ".msg pre{display:block;padding:6px;margin:4px 0;white-space:pre-wrap}",
    ".msg blockquote{margin:2px 0;padding-left:8px;border-left:3px solid rgba(0,0,0,.2)}",
    ".spoiler{background:#999;color:transparent;border-radius:3px}",
    ".spoiler:hover{color:inherit;background:transparent}",
    ".att{display:block;margin-top:6px}",
    ".att img{max-width:100%;max-height:220px;border-radius:6px;display:block}",
    ".email{padding:12px;border-top:1px solid #e3e5e8;display:flex;flex-direction:column;gap:6px}",
    ".email .row{display:flex;gap:6px}",
    ".email input{flex:1}",
    ".composer{display:flex;gap:6px;padding:8px;border-top:1px solid #e3e5e8;align-items:flex-end}",
    "textarea,input[type=email]{border:1px solid #ccd;border-radius:8px;padding:8px;font-size:14px;",
    "resize:none;color:#1d1d1f;background:#fff}",
    "textarea{flex:1;height:40px;max-height:120px}",
    ".btn{border:0;border-radius:8px;background:var(--c);color:#fff;padding:0 12px;height:40px;",
    "cursor:pointer;font-size:14px}",
    ".btn.ghost{background:#eef0f3;color:#333}",
    ".clip{width:40px;padding:0;font-size:18px}",
    ".file{display:none}",
    ".survey .stars{margin-top:6px;display:flex;gap:2px}",
    ".star{background:none;border:0;padding:0 2px;font-size:24px;line-height:1;color:#f5a623;",
    "cursor:pointer}",
  ].join("");

  var host = el("div", { "data-eadesk": "root" });
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  host.style.setProperty("--c", "#2f6fed");

  var launcher = el("button", {
    type: "button", class: "launcher", "data-eadesk": "launcher", "aria-label": T.open,
    title: T.open,
  });
  var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  launcher.appendChild(svg);

  var titleNode = el("div", { class: "title", text: T.support });
  var closeBtn = el("button", { type: "button", class: "x", "aria-label": T.close, text: "×" });
  var notice = el("div", { class: "notice", "data-eadesk": "notice", hidden: "" });
  var list = el("div", { class: "list", "data-eadesk": "messages", role: "log" });
  var emptyNode = el("div", { class: "empty", text: T.empty });
  list.appendChild(emptyNode);

  var emailText = el("div", { text: T.emailAsk });
  var emailInput = el("input", { type: "email", "data-eadesk": "email", autocomplete: "email" });
  var emailSave = el("button", { type: "button", class: "btn", "data-eadesk": "email-save", text: T.emailSave });
  var emailSkip = el("button", { type: "button", class: "btn ghost", text: T.emailSkip });
  var emailForm = el("div", { class: "email", hidden: "" }, [
    emailText, el("div", { class: "row" }, [emailInput, emailSave, emailSkip]),
  ]);

  var input = el("textarea", { "data-eadesk": "input", placeholder: T.placeholder, rows: "1" });
  var fileInput = el("input", { type: "file", class: "file", "data-eadesk": "file" });
  var clip = el("button", { type: "button", class: "btn ghost clip", "aria-label": T.attach, title: T.attach, text: "📎" });
  var sendBtn = el("button", { type: "button", class: "btn", "data-eadesk": "send", text: T.send });
  var composer = el("div", { class: "composer" }, [fileInput, clip, input, sendBtn]);

  var panel = el("div", { class: "panel", "data-eadesk": "panel", hidden: "", role: "dialog" }, [
    el("div", { class: "head" }, [titleNode, closeBtn]), notice, list, emailForm, composer,
  ]);
  root.appendChild(el("style", { text: CSS }));
  root.appendChild(launcher);
  root.appendChild(panel);

  function mount() {
    if (!host.isConnected) document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  // ---- rendering ----------------------------------------------------------------------------

  var SAFE_URL = /^(https?:|mailto:)/i;

  function safeHref(url) {
    if (!url) return null;
    try {
      var u = new URL(url, location.href);
      return SAFE_URL.test(u.protocol) ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function spanNode(span) {
    switch (span.kind) {
      case "bold": return el("strong");
      case "italic": return el("em");
      case "underline": return el("u");
      case "strike": return el("s");
      case "code": return el("code");
      case "pre": return el("pre");
      case "quote": return el("blockquote");
      case "spoiler": return el("span", { class: "spoiler" });
      case "link":
      case "mention":
        var href = safeHref(span.url);
        if (!href) return el("span");
        return el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow" });
      default: return el("span");
    }
  }

  // Spans count code points; each run between span edges is wrapped in its active spans.
  function renderText(text, spans, into) {
    var chars = Array.from(text || "");
    spans = (spans || []).filter(function (sp) {
      return sp && sp.end > sp.start && sp.start >= 0 && sp.start < chars.length;
    });
    if (!spans.length) {
      into.appendChild(document.createTextNode(chars.join("")));
      return;
    }
    var edges = [0, chars.length];
    spans.forEach(function (sp) { edges.push(sp.start, Math.min(sp.end, chars.length)); });
    edges = edges.filter(function (v, i, a) { return a.indexOf(v) === i; }).sort(function (a, b) { return a - b; });
    for (var i = 0; i + 1 < edges.length; i++) {
      var from = edges[i];
      var to = edges[i + 1];
      var node = document.createTextNode(chars.slice(from, to).join(""));
      for (var j = spans.length - 1; j >= 0; j--) {
        if (spans[j].start <= from && spans[j].end >= to) {
          var wrap = spanNode(spans[j]);
          wrap.appendChild(node);
          node = wrap;
        }
      }
      into.appendChild(node);
    }
  }

  function fileUrl(url) {
    if (!url) return null;
    var full = /^https?:/i.test(url) ? url : BASE + (url.charAt(0) === "/" ? "" : "/") + url;
    if (!/[?&]token=/.test(full) && state.token) {
      full += (full.indexOf("?") < 0 ? "?" : "&") + "token=" + encodeURIComponent(state.token);
    }
    return safeHref(full);
  }

  function renderAttachment(att) {
    var url = fileUrl(att.url);
    var box = el("span", { class: "att" });
    if (att.kind === "photo" && url) {
      box.appendChild(el("a", { href: url, target: "_blank", rel: "noopener" }, [
        el("img", { src: url, alt: att.name || "", loading: "lazy" }),
      ]));
    } else if (url) {
      box.appendChild(el("a", {
        href: url, target: "_blank", rel: "noopener", text: "📄 " + (att.name || "file") +
          (att.size ? " (" + bytes(att.size) + ")" : ""),
      }));
    } else {
      box.textContent = "📄 " + (att.name || att.kind || "");
    }
    return box;
  }

  function when(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    var opts = { hour: "2-digit", minute: "2-digit" };
    var today = new Date();
    if (d.toDateString() !== today.toDateString()) {
      opts.day = "numeric";
      opts.month = "short";
    }
    return d.toLocaleString(RU ? "ru-RU" : "en-GB", opts);
  }

  function messageNode(msg, pending) {
    var from = msg.from === "operator" ? "operator" : "visitor";
    var node = el("div", {
      class: "msg " + from + (pending ? " pending" : ""), "data-eadesk": "message",
      "data-eadesk-from": from,
    });
    if (msg.id != null) node.setAttribute("data-eadesk-id", String(msg.id));
    if (msg.client_id) node.setAttribute("data-eadesk-client-id", msg.client_id);
    var body = el("div", { class: "text", "data-eadesk": "text" });
    renderText(msg.text, msg.spans, body);
    node.appendChild(body);
    (msg.attachments || []).forEach(function (a) { node.appendChild(renderAttachment(a)); });
    var who = from === "operator" ? msg.author || T.support : T.you;
    var meta = pending ? who + " · " + T.sending : who + (msg.at ? " · " + when(msg.at) : "");
    node.appendChild(el("div", { class: "meta", "data-eadesk": "meta", text: meta }));
    return node;
  }

  // ---- state ------------------------------------------------------------------------------

  var state = {
    token: store.get(TOKEN_KEY),
    cursor: 0,
    config: null,
    visitor: null,
    started: null, // the session's promise
    blocked: false, // identity refused: no chat until setUser succeeds or reset()
    byId: {}, // message id -> node
    byClient: {}, // client_id -> {node, text} of messages not yet confirmed
    ws: null,
    wsFails: 0,
    polling: false,
    backoff: 0,
    timer: null,
    pinger: null,
    generation: 0, // bumps on reset/setUser: stale sockets and polls stop
    skippedEmail: false,
  };

  function showNotice(text, bad) {
    if (!text) {
      notice.hidden = true;
      notice.textContent = "";
      return;
    }
    notice.textContent = text;
    notice.className = "notice" + (bad ? " bad" : "");
    notice.hidden = false;
  }

  function scrollDown() {
    list.scrollTop = list.scrollHeight;
  }

  function insertByCursor(node, cursor) {
    node.setAttribute("data-eadesk-cursor", String(cursor));
    var items = list.querySelectorAll("[data-eadesk-cursor]");
    for (var i = 0; i < items.length; i++) {
      if (Number(items[i].getAttribute("data-eadesk-cursor")) > cursor) {
        list.insertBefore(node, items[i]);
        return;
      }
    }
    // After confirmed ones, but before any still pending message.
    var firstPending = list.querySelector(".pending");
    list.insertBefore(node, firstPending);
  }

  // `streamed`: it came in order from the session, the socket or a poll, so the cursor may
  // move past it. An answer to a send may overtake a message still on its way: it shows, but
  // the cursor waits for the stream (or a resume would skip the one still on its way).
  function addMessage(msg, streamed) {
    if (msg && msg.survey) return showSurvey(msg.survey);
    if (!msg || msg.id == null) return;
    if (streamed && msg.cursor > state.cursor) setCursor(msg.cursor);
    if (state.byId[msg.id]) return;
    emptyNode.remove();
    var node = messageNode(msg, false);
    state.byId[msg.id] = node;
    var pending = msg.client_id && state.byClient[msg.client_id];
    if (pending) {
      delete state.byClient[msg.client_id];
      pending.node.remove();
    }
    insertByCursor(node, msg.cursor || 0);
    updateEmailForm();
    scrollDown();
  }

  // ---- the satisfaction survey: stars after a close; a click rates (again: changes it) ----

  var surveyNode = null;

  function showSurvey(sv) {
    if (!sv || !sv.token) return;
    emptyNode.remove();
    if (!surveyNode || surveyNode.getAttribute("data-eadesk-survey") !== sv.token) {
      if (surveyNode) surveyNode.remove();
      surveyNode = el("div", {
        class: "msg operator survey", "data-eadesk": "survey", "data-eadesk-survey": sv.token,
      });
      list.appendChild(surveyNode);
    }
    while (surveyNode.firstChild) surveyNode.removeChild(surveyNode.firstChild);
    var rated = typeof sv.score === "number" ? sv.score : 0;
    surveyNode.appendChild(el("div", { "data-eadesk": "survey-text", text: rated ? sv.thanks || sv.text : sv.text }));
    var row = el("div", { class: "stars" });
    [1, 2, 3, 4, 5].forEach(function (n) {
      var star = el("button", {
        type: "button", class: "star", "data-eadesk": "star", "data-score": String(n),
        "aria-label": String(n), text: n <= rated ? "★" : "☆",
      });
      star.addEventListener("click", function () { rateSurvey(sv.token, n); });
      row.appendChild(star);
    });
    surveyNode.appendChild(row);
    scrollDown();
  }

  function rateSurvey(token, score) {
    api("POST", "/webchat/api/rate", { token: state.token, survey: token, score: score })
      .then(function (r) { if (r.ok && r.data.survey) showSurvey(r.data.survey); })
      .catch(function () { showNotice(T.error, true); });
  }

  function setCursor(c) {
    state.cursor = c;
    store.set(CURSOR_KEY, String(c));
  }

  function clearMessages() {
    state.byId = {};
    state.byClient = {};
    state.cursor = 0;
    surveyNode = null;
    while (list.firstChild) list.removeChild(list.firstChild);
    list.appendChild(emptyNode);
  }

  function applyConfig(cfg) {
    state.config = cfg;
    if (cfg.title) titleNode.textContent = cfg.title;
    if (cfg.color && /^#[0-9a-f]{3,8}$|^[a-z]+$|^rgba?\([\d\s,.%]+\)$/i.test(cfg.color)) {
      host.style.setProperty("--c", cfg.color);
    }
  }

  var configLoaded = api("GET", "/webchat/api/config").then(function (r) {
    if (r.ok) applyConfig(r.data);
    return state.config;
  }).catch(function () { return null; });

  function hasVisitorMessages() {
    return !!list.querySelector('[data-eadesk-from="visitor"]');
  }

  function emailMode() {
    var mode = state.config && state.config.ask_email;
    if (!mode || mode === "off" || state.blocked || !state.visitor) return "off";
    if (state.visitor.email || hasVisitorMessages()) return "off";
    if (mode === "optional" && state.skippedEmail) return "off";
    return mode;
  }

  function updateEmailForm() {
    var mode = emailMode();
    emailForm.hidden = mode === "off";
    emailSkip.hidden = mode !== "optional";
    emailText.textContent = mode === "required" ? T.emailRequired : T.emailAsk;
    composer.hidden = mode === "required" || state.blocked;
  }

  // ---- session and transport ----------------------------------------------------------------

  function stopTransport() {
    state.generation++;
    if (state.ws) {
      try { state.ws.close(1000); } catch (e) { /* closed */ }
    }
    state.ws = null;
    clearTimeout(state.timer);
    clearInterval(state.pinger);
    state.polling = false;
  }

  function startSession(user) {
    var body = { page: page() };
    if (state.token) body.token = state.token;
    if (user) body.user = user;
    return configLoaded.then(function () {
      return api("POST", "/webchat/api/session", body);
    }).then(function (r) {
      if (r.status === 403) {
        var err = new Error(r.data.error || "identity");
        err.code = r.data.error || "identity";
        throw err;
      }
      if (!r.ok) throw new Error(r.data.error || "HTTP " + r.status);
      stopTransport();
      state.blocked = false;
      if (r.data.token !== state.token) clearMessages();
      state.token = r.data.token;
      store.set(TOKEN_KEY, state.token);
      state.visitor = r.data.visitor || {};
      showNotice(null);
      (r.data.messages || []).forEach(function (m) { addMessage(m, true); });
      if (r.data.cursor > state.cursor) setCursor(r.data.cursor);
      if (r.data.survey) showSurvey(r.data.survey);
      updateEmailForm();
      connect();
      flushPending();
      return state.visitor;
    });
  }

  function ensureSession() {
    if (!state.started) {
      state.started = startSession().catch(function (e) {
        state.started = null;
        showNotice(T.error, true);
        throw e;
      });
    }
    return state.started;
  }

  function connect() {
    if (state.polling || !window.WebSocket || state.wsFails >= 3) {
      return poll();
    }
    var gen = state.generation;
    var opened = false;
    var url = WS_BASE + "/webchat/ws?token=" + encodeURIComponent(state.token) + "&after=" + state.cursor;
    var ws;
    try { ws = new WebSocket(url); } catch (e) { state.wsFails++; return retry(gen); }
    state.ws = ws;
    ws.onopen = function () {
      // A socket a proxy closes right away counts as not connecting (-> polling).
      setTimeout(function () {
        if (ws.readyState !== 1) return;
        opened = true;
        state.wsFails = 0;
        state.backoff = 0;
      }, 3000);
      showNotice(null);
      clearInterval(state.pinger);
      state.pinger = setInterval(function () {
        if (ws.readyState === 1) ws.send(JSON.stringify({ type: "ping" }));
      }, 25000);
      flushPending();
    };
    ws.onmessage = function (ev) {
      opened = true;
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame.type === "message") addMessage(frame.message, true);
    };
    ws.onclose = function (ev) {
      clearInterval(state.pinger);
      if (gen !== state.generation) return;
      state.ws = null;
      if (ev.code === 4401) {
        // The token is no longer good: a fresh anonymous visitor, as the server says.
        state.token = null;
        store.del(TOKEN_KEY);
        state.started = startSession().catch(function () { state.started = null; });
        return;
      }
      if (!opened) state.wsFails++;
      retry(gen);
    };
  }

  function retry(gen) {
    if (gen !== state.generation) return;
    if (state.backoff > 0) showNotice(T.offline, false);
    state.backoff = Math.min(state.backoff ? state.backoff * 2 : 500, 30000);
    var delay = state.backoff / 2 + Math.random() * state.backoff / 2;
    clearTimeout(state.timer);
    state.timer = setTimeout(function () {
      if (gen === state.generation) connect();
    }, delay);
  }

  // Long polling when the socket cannot connect (a proxy): the same resume-from-cursor.
  function poll() {
    if (state.polling) return;
    state.polling = true;
    var gen = state.generation;
    var failures = 0;
    (function next() {
      if (gen !== state.generation) return;
      var q = "?token=" + encodeURIComponent(state.token) + "&after=" + state.cursor + "&wait=25";
      api("GET", "/webchat/api/poll" + q).then(function (r) {
        if (gen !== state.generation) return;
        if (!r.ok) throw new Error("HTTP " + r.status);
        failures = 0;
        showNotice(null);
        (r.data.messages || []).forEach(function (m) { addMessage(m, true); });
        if (r.data.cursor > state.cursor) setCursor(r.data.cursor);
        flushPending();
        next();
      }).catch(function () {
        if (gen !== state.generation) return;
        failures++;
        showNotice(T.offline, false);
        setTimeout(next, Math.min(1000 * Math.pow(2, failures), 30000));
      });
    })();
  }

  // ---- sending ------------------------------------------------------------------------------

  function pendingNode(clientId, text) {
    emptyNode.remove();
    var node = messageNode({ from: "visitor", text: text, client_id: clientId }, true);
    list.appendChild(node);
    scrollDown();
    return node;
  }

  function sendText(text, clientId) {
    var entry = state.byClient[clientId];
    if (!entry || entry.busy) return;
    entry.busy = true;
    api("POST", "/webchat/api/send", { token: state.token, client_id: clientId, text: text, page: page() })
      .then(function (r) {
        entry.busy = false;
        if (r.ok && r.data.message) {
          addMessage(r.data.message);
          return;
        }
        if (r.status === 413) {
          drop(clientId);
          showNotice(fmt(T.tooLong, { limit: r.data.limit }), true);
        } else if (r.status === 429) {
          var s = Math.max(1, Math.ceil(Number(r.data.retry_after) || 1));
          showNotice(fmt(T.rate, { s: s }), true);
          setTimeout(function () { sendText(text, clientId); }, s * 1000);
        } else if (r.status >= 500) {
          later(clientId);
        } else {
          drop(clientId);
          showNotice(T.error, true);
        }
      })
      .catch(function () {
        entry.busy = false;
        later(clientId);
      });
  }

  function later(clientId) {
    var entry = state.byClient[clientId];
    if (!entry) return;
    entry.tries = (entry.tries || 0) + 1;
    showNotice(T.failed, false);
    setTimeout(function () { sendText(entry.text, clientId); }, Math.min(1000 * Math.pow(2, entry.tries), 30000));
  }

  function drop(clientId) {
    var entry = state.byClient[clientId];
    if (entry) entry.node.remove();
    delete state.byClient[clientId];
  }

  // A resend after a drop keeps the client_id: the server makes it one message.
  function flushPending() {
    Object.keys(state.byClient).forEach(function (cid) {
      var entry = state.byClient[cid];
      if (entry.text != null && !entry.busy) sendText(entry.text, cid);
    });
  }

  function submit() {
    if (state.blocked) return;
    var text = input.value.replace(/^\s+|\s+$/g, "");
    if (!text) return;
    input.value = "";
    var clientId = uuid();
    state.byClient[clientId] = { node: pendingNode(clientId, text), text: text };
    updateEmailForm();
    ensureSession().then(function () { sendText(text, clientId); }).catch(function () {});
  }

  function upload(file) {
    if (!file || state.blocked) return;
    var limit = state.config && state.config.upload_limit;
    if (limit && file.size > limit) {
      showNotice(fmt(T.tooLarge, { name: file.name, limit: bytes(limit) }), true);
      return;
    }
    var clientId = uuid();
    var node = pendingNode(clientId, "📎 " + file.name);
    state.byClient[clientId] = { node: node, text: null };
    ensureSession().then(function () {
      var form = new FormData();
      form.append("file", file, file.name);
      var q = "?token=" + encodeURIComponent(state.token) + "&client_id=" + encodeURIComponent(clientId);
      return api("POST", "/webchat/api/upload" + q, form, true);
    }).then(function (r) {
      if (r.ok && r.data.message) {
        addMessage(r.data.message);
        return;
      }
      drop(clientId);
      if (r.status === 413) {
        var lim = r.data.limit || limit;
        showNotice(fmt(T.tooLarge, { name: file.name, limit: lim ? bytes(lim) : "" }), true);
      } else if (r.status === 429) {
        showNotice(fmt(T.rate, { s: Math.ceil(Number(r.data.retry_after) || 1) }), true);
      } else {
        showNotice(T.error, true);
      }
    }).catch(function () {
      drop(clientId);
      showNotice(T.error, true);
    });
  }

  function saveEmail() {
    var email = emailInput.value.trim();
    if (!email) return;
    ensureSession().then(function () {
      return api("POST", "/webchat/api/email", { token: state.token, email: email });
    }).then(function (r) {
      if (!r.ok) {
        showNotice(r.status === 400 ? T.emailBad : T.error, true);
        return;
      }
      state.visitor = r.data.visitor || { email: email };
      if (r.data.token) {
        state.token = r.data.token;
        store.set(TOKEN_KEY, state.token);
      }
      showNotice(null);
      updateEmailForm();
      input.focus();
    }).catch(function () { showNotice(T.error, true); });
  }

  // ---- events -------------------------------------------------------------------------------

  launcher.addEventListener("click", function () {
    if (panel.hidden) eadesk.open();
    else eadesk.close();
  });
  closeBtn.addEventListener("click", function () { eadesk.close(); });
  sendBtn.addEventListener("click", submit);
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  clip.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var files = Array.prototype.slice.call(fileInput.files || []);
    files.forEach(upload);
    fileInput.value = "";
  });
  emailSave.addEventListener("click", saveEmail);
  emailInput.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      saveEmail();
    }
  });
  emailSkip.addEventListener("click", function () {
    state.skippedEmail = true;
    updateEmailForm();
  });

  // ---- JS API ---------------------------------------------------------------------------------

  var eadesk = {
    __eadesk: true,
    open: function () {
      mount();
      panel.hidden = false;
      if (!state.blocked) {
        ensureSession().catch(function () {});
        updateEmailForm();
      }
      setTimeout(function () { input.focus(); }, 0);
    },
    close: function () {
      panel.hidden = true;
    },
    // A known user: {id, name, email, hash, ts}; refused (403) keeps the visitor out.
    setUser: function (user) {
      var attempt = startSession(user || {});
      state.started = attempt.catch(function () {});
      return attempt.catch(function (e) {
        stopTransport();
        state.blocked = true;
        state.started = null;
        clearMessages();
        updateEmailForm();
        showNotice(e.code === "identity" ? T.identity : T.error, true);
        throw e;
      });
    },
    reset: function () {
      stopTransport();
      state.token = null;
      state.visitor = null;
      state.started = null;
      state.blocked = false;
      state.skippedEmail = false;
      store.del(TOKEN_KEY);
      store.del(CURSOR_KEY);
      clearMessages();
      showNotice(null);
      updateEmailForm();
      if (!panel.hidden) ensureSession().catch(function () {});
    },
  };
  window.eadesk = eadesk;

  // A returning visitor: continue the dialog (and get replies live) without waiting for a click.
  if (state.token) ensureSession().catch(function () {});
})();
