// The sandbox page: the emulated Telegram shown like Telegram. Plain DOM, no framework.
// Reads /sandbox/api/* (views of the emulator's state), writes through the emulator's control
// API (/_emu/messages, /_emu/callbacks, /_emu/users), stays live through /_emu/events (SSE).
// Text from chats is only ever set as text (textContent / text nodes), never as HTML.
"use strict";
(() => {
  const STRINGS = window.SANDBOX_STRINGS;
  const FIRST = ((navigator.languages && navigator.languages[0]) || navigator.language || "en");
  const LANG = FIRST.toLowerCase().startsWith("ru") ? "ru" : "en";
  const COLORS = ["#e17076", "#faa774", "#a695e7", "#7bc862", "#6ec9cb", "#65aadd", "#ee7aae"];
  const SAFE_PROTOCOLS = ["http:", "https:", "mailto:", "tel:"];
  const POLL_MS = 3000; // only when live updates are unavailable
  const CALLBACK_WAIT_MS = 15000;

  function t(key, vars) {
    let s = STRINGS[LANG][key] ?? STRINGS.en[key] ?? key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split(`{${k}}`).join(String(v ?? ""));
    return s;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c == null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem("sandbox." + key);
        return raw == null ? fallback : JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem("sandbox." + key, JSON.stringify(value));
      } catch (e) {
        /* private mode: fine, the page still works */
      }
    },
  };

  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const error = new Error((data && data.description) || `${res.status} ${res.statusText}`);
      error.status = res.status;
      throw error;
    }
    return data;
  }

  function toast(text, alert) {
    const node = el("div", { class: "toast" + (alert ? " alert" : ""), "data-sb": "toast" }, text);
    node.addEventListener("click", () => node.remove());
    document.querySelector("[data-sb=toasts]").append(node);
    setTimeout(() => node.remove(), alert ? 9000 : 4500);
  }

  const S = {
    overview: null,
    view: store.get("view", null), // {kind: "general"|"topic"|"private", thread?, user?}
    as: store.get("as", null), // the operator the team composer writes as
    client: store.get("client", null), // the client whose phone is shown
    seen: store.get("seen", {}), // chat key -> last message id seen in this browser
    pinnedOpen: store.get("pinnedOpen", true),
    callbacks: [], // pressed buttons waiting for the bot's answer
  };

  // --- text with entities, safely --------------------------------------------------------
  function safeHref(raw, bare) {
    let text = String(raw || "").trim();
    if (bare && !/^[a-z][a-z0-9+.-]*:/i.test(text)) text = "http://" + text;
    try {
      const url = new URL(text);
      return SAFE_PROTOCOLS.includes(url.protocol) ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function topicOfLink(href) {
    // eadesk links topics as https://t.me/c/<id>/<message>?thread=<topic>: open them here.
    const team = S.overview && S.overview.team;
    const m = /^https:\/\/t\.me\/c\/(\d+)\/(\d+)(?:\?thread=(\d+))?/.exec(href || "");
    if (!team || !m || `-100${m[1]}` !== String(team.chat_id)) return null;
    return Number(m[3] || m[2]);
  }

  function link(href, child) {
    const a = el("a", { href, target: "_blank", rel: "noopener noreferrer" }, child);
    const thread = topicOfLink(href);
    if (thread != null) a.dataset.thread = String(thread);
    return a;
  }

  function wrap(entity, node, text) {
    const whole = text.slice(entity.offset, entity.offset + entity.length);
    switch (entity.type) {
      case "bold": return el("b", null, node);
      case "italic": return el("i", null, node);
      case "underline": return el("u", null, node);
      case "strikethrough": return el("s", null, node);
      case "spoiler": return el("span", { class: "spoiler", onclick: (e) => e.currentTarget.classList.add("shown") }, node);
      case "code": return el("code", null, node);
      case "pre": return el("code", { class: "pre" }, node);
      case "blockquote":
      case "expandable_blockquote": return el("span", { class: "quote" }, node);
      case "text_link": {
        const href = safeHref(entity.url, false);
        return href ? link(href, node) : el("span", { class: "link-off", title: entity.url || "" }, node);
      }
      case "url": {
        const href = safeHref(whole, true);
        return href ? link(href, node) : el("span", { class: "link-off" }, node);
      }
      case "email": return link("mailto:" + whole, node);
      case "mention":
      case "text_mention":
      case "hashtag":
      case "cashtag": return el("span", { class: "accent" }, node);
      case "bot_command": return el("span", { class: "accent command", "data-command": whole }, node);
      default: return node;
    }
  }

  function richText(text, entities) {
    const frag = document.createDocumentFragment();
    if (!text) return frag;
    const ents = (entities || []).filter((e) => e.length > 0 && e.offset < text.length);
    const cuts = new Set([0, text.length]);
    for (const e of ents) {
      cuts.add(e.offset);
      cuts.add(Math.min(text.length, e.offset + e.length));
    }
    const points = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i + 1 < points.length; i++) {
      const [a, b] = [points[i], points[i + 1]];
      let node = document.createTextNode(text.slice(a, b)); // offsets are UTF-16, as JS strings
      const covering = ents
        .filter((e) => e.offset <= a && e.offset + e.length >= b)
        .sort((x, y) => x.length - y.length); // innermost first
      for (const e of covering) node = wrap(e, node, text);
      frag.append(node);
    }
    return frag;
  }

  // --- messages ------------------------------------------------------------------------------
  function colorOf(id) {
    return COLORS[Math.abs(Number(id) || 0) % COLORS.length];
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" });
  }

  function size(bytes) {
    if (bytes == null) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function short(text, n) {
    const s = String(text || "");
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  function serviceText(m) {
    const d = m.service_data || {};
    switch (m.service) {
      case "forum_topic_created":
      case "forum_topic_edited":
        return t("svc_" + m.service, { name: d.name || "" });
      case "forum_topic_closed":
      case "forum_topic_reopened":
        return t("svc_" + m.service);
      case "pinned_message":
        return t("svc_pinned_message", { who: m.from_name, text: short(m.pinned_text, 48) || "…" });
      case "new_chat_members":
        return t("svc_new_chat_members", { names: (d.users || []).map((u) => u.first_name).join(", ") });
      case "left_chat_member":
        return t("svc_left_chat_member", { name: (d.user || {}).first_name || "" });
      default:
        return t("svc_other", { service: m.service });
    }
  }

  function mediaNode(m) {
    const url = m.file_url;
    if (m.kind === "location" && m.location) {
      return el("div", { class: "media-line" }, `📍 ${t("kind_location")}: ${m.location.latitude}, ${m.location.longitude}`);
    }
    if (m.kind === "contact" && m.contact) {
      return el("div", { class: "media-line" }, `👤 ${m.contact.first_name || ""} ${m.contact.phone_number || ""}`);
    }
    if (!url) return null;
    if (m.kind === "photo" || m.kind === "sticker") {
      const img = el("img", { class: m.kind, src: url, alt: t("kind_" + m.kind), loading: "lazy", "data-sb": "photo" });
      img.addEventListener("error", () => img.replaceWith(el("div", { class: "media-line" }, "🖼 " + t("kind_" + m.kind))));
      img.addEventListener("load", () => img.dispatchEvent(new CustomEvent("sandbox-media", { bubbles: true })));
      return link(url, img);
    }
    if (m.kind === "voice" || m.kind === "audio") {
      return el("div", null, el("audio", { controls: true, preload: "none", src: url }));
    }
    if (m.kind === "video" || m.kind === "video_note" || m.kind === "animation") {
      return el("video", { class: "photo", controls: true, preload: "metadata", src: url });
    }
    const name = m.file_name || t("kind_document");
    return el("a", { class: "doc", href: url, download: name, "data-sb": "document" },
      el("span", { class: "doc-icon" }, "📄"),
      el("span", { class: "doc-name" }, name),
      el("span", { class: "doc-size" }, size(m.file_size)));
  }

  function snippet(m) {
    const text = m.text ?? m.caption ?? "";
    if (text.trim()) return text.replace(/\s+/g, " ").slice(0, 120);
    return m.kind === "service" ? serviceText(m) : t("kind_" + m.kind);
  }

  // --- a conversation pane (the team's chat in the middle, the client's phone on the right) ----
  class Pane {
    constructor(root) {
      root.append(document.getElementById("pane").content.cloneNode(true));
      this.root = root;
      this.ctx = null;
      this.rendered = new Map();
      this.replyTo = null;
      this.file = null;
      this.stick = true;
      this.list = this.q("messages");
      this.input = this.q("input");
      this.q("composer").addEventListener("submit", (e) => {
        e.preventDefault();
        this.send();
      });
      this.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.send();
        }
      });
      this.input.addEventListener("input", () => this.grow());
      this.q("file").addEventListener("change", (e) => this.attach(e.target.files[0] || null));
      this.q("attached-cancel").addEventListener("click", () => this.attach(null));
      this.q("replying-cancel").addEventListener("click", () => this.reply(null));
      this.q("pinned-toggle").addEventListener("click", () => {
        S.pinnedOpen = !S.pinnedOpen;
        store.set("pinnedOpen", S.pinnedOpen);
        this.q("pinned").classList.toggle("open", S.pinnedOpen);
      });
      this.q("as").addEventListener("change", (e) => {
        S.as = Number(e.target.value);
        store.set("as", S.as);
        refresh();
      });
      // A /command in a message goes into the composer, as a tap on it would send it.
      this.root.addEventListener("click", (e) => {
        const command = e.target.closest && e.target.closest("[data-command]");
        if (!command) return;
        this.input.value = command.dataset.command + " ";
        this.input.focus();
      });
      this.list.addEventListener("sandbox-media", () => {
        if (this.atBottom) this.list.scrollTop = this.list.scrollHeight;
      });
      this.list.addEventListener("scroll", () => {
        this.atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
      });
      for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
      for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
    }

    q(name) {
      return this.root.querySelector(`[data-sb="${name}"]`);
    }

    grow() {
      this.input.style.height = "auto";
      this.input.style.height = Math.min(this.input.scrollHeight, 160) + "px";
    }

    setContext(ctx) {
      const changed = !this.ctx || !ctx || this.ctx.key !== ctx.key;
      this.ctx = ctx;
      this.root.hidden = false;
      if (changed) {
        this.rendered = new Map();
        this.reply(null);
        this.stick = true;
      }
      this.q("composer").hidden = !ctx;
      if (!ctx) return;
      this.q("title").textContent = ctx.title;
      this.q("subtitle").textContent = ctx.subtitle || "";
      this.input.placeholder = ctx.group ? t("write_comment") : t("write");
      const as = this.q("as");
      as.hidden = !ctx.operators;
      if (ctx.operators) {
        const options = ctx.operators.map((o) => el("option", { value: o.id }, `${t("as")} ${o.name}`));
        as.replaceChildren(...options);
        as.value = String(ctx.from);
      }
    }

    reply(m) {
      this.replyTo = m;
      this.q("replying").hidden = !m;
      if (m) {
        this.q("replying-name").textContent = m.from_name;
        this.q("replying-text").textContent = snippet(m);
        this.input.focus();
      }
    }

    attach(file) {
      this.file = file;
      this.q("attached").hidden = !file;
      this.q("attached-name").textContent = file ? file.name : "";
      if (!file) this.q("file").value = "";
    }

    render(messages) {
      this.renderPinned(messages); // first: it takes room from the list below
      this.q("empty").hidden = messages.length > 0;
      this.q("empty").textContent = t("no_messages");
      const nodes = [];
      const next = new Map();
      for (const m of messages) {
        const sig = JSON.stringify(m) + "|" + (this.ctx && this.ctx.from);
        let entry = this.rendered.get(m.message_id);
        if (!entry || entry.sig !== sig) entry = { sig, node: this.messageNode(m) };
        next.set(m.message_id, entry);
        nodes.push(entry.node);
      }
      const keep = this.stick || this.atBottom !== false;
      this.rendered = next;
      this.list.replaceChildren(...nodes);
      if (keep) this.list.scrollTop = this.list.scrollHeight;
      this.atBottom = keep || this.atBottom;
      this.stick = false;
    }

    renderPinned(messages) {
      const pinned = messages.filter((m) => m.pinned).pop();
      const box = this.q("pinned");
      box.hidden = !pinned;
      box.classList.toggle("open", S.pinnedOpen);
      if (!pinned) return;
      this.q("pinned-text").textContent = snippet(pinned);
      const sig = JSON.stringify(pinned) + "|" + this.ctx.from;
      if (this.pinnedSig !== sig) {
        this.pinnedSig = sig;
        this.q("pinned-body").replaceChildren(this.messageNode(pinned, true));
      }
    }

    messageNode(m, inPinned) {
      const attrs = { "data-sb": inPinned ? "pinned-message" : "message", "data-id": m.message_id };
      if (m.kind === "service") return el("div", { class: "service", ...attrs }, el("span", null, serviceText(m)));
      const mine = m.from.id === this.ctx.from;
      const bubble = el("div", { class: "bubble" });
      if (this.ctx.group && !mine) {
        const name = el("div", { class: "sender", "data-sb": "sender" }, m.from_name);
        name.style.color = colorOf(m.from.id);
        bubble.append(name);
      }
      if (m.forward_origin) bubble.append(el("div", { class: "forwarded" }, "↪ " + (m.forward_origin.sender_user_name || (m.forward_origin.sender_user || {}).first_name || "")));
      if (m.reply) {
        const quote = el("div", { class: "reply-quote", "data-sb": "reply-quote" },
          el("b", null, m.reply.from_name), el("span", null, m.reply.text));
        quote.addEventListener("click", () => this.scrollTo(m.reply.message_id));
        bubble.append(quote);
      }
      const media = mediaNode(m);
      if (media) bubble.append(media);
      const body = m.text ?? m.caption;
      if (body) bubble.append(el("div", { class: "text", "data-sb": "text" }, richText(body, m.entities)));
      bubble.append(el("div", { class: "meta" },
        m.edited ? el("span", { class: "edited", "data-sb": "edited" }, t("edited")) : null,
        m.via_bot ? `via @${m.via_bot.username} ` : null,
        clock(m.date)));
      const node = el("div", { class: "msg" + (mine ? " mine" : ""), ...attrs, "data-from": m.from.is_bot ? "bot" : String(m.from.id) }, bubble);
      if (m.reaction_counts && m.reaction_counts.length) {
        node.append(el("div", { class: "reactions", "data-sb": "reactions" },
          ...m.reaction_counts.map((r) => el("span", { class: "reaction" }, `${r.emoji} ${r.count}`))));
      }
      const rows = (m.reply_markup && m.reply_markup.inline_keyboard) || [];
      if (rows.length) node.append(this.keyboard(m, rows));
      if (!inPinned) {
        node.append(el("button", { type: "button", class: "reply-action", "data-sb": "reply", title: t("reply"), onclick: () => this.reply(m) }, "↩ " + t("reply")));
      }
      return node;
    }

    keyboard(m, rows) {
      const box = el("div", { class: "keyboard", "data-sb": "keyboard" });
      for (const row of rows) {
        const line = el("div", { class: "kb-row" });
        for (const b of row) {
          let node;
          if (b.callback_data != null) {
            node = el("button", { type: "button", class: "kb", onclick: (e) => this.press(m, b, e.currentTarget) }, b.text);
          } else if (b.url && safeHref(b.url, false)) {
            node = link(safeHref(b.url, false), b.text);
            node.className = "kb";
          } else {
            node = el("button", { type: "button", class: "kb", disabled: true }, b.text);
          }
          line.append(node);
        }
        box.append(line);
      }
      return box;
    }

    scrollTo(id) {
      const entry = this.rendered.get(id);
      if (!entry) return;
      entry.node.scrollIntoView({ block: "center", behavior: "smooth" });
      entry.node.classList.add("flash");
      setTimeout(() => entry.node.classList.remove("flash"), 1200);
    }

    async press(m, button, node) {
      const where = this.ctx.where.to_bot ? { to_bot: this.ctx.where.to_bot } : { chat_id: this.ctx.where.chat_id };
      node.classList.add("busy");
      try {
        const answer = await api("POST", "/_emu/callbacks", { from: this.ctx.from, message_id: m.message_id, data: button.callback_data, ...where });
        S.callbacks.push({ id: answer.callback_query_id, until: Date.now() + CALLBACK_WAIT_MS, node });
        checkCallbacks();
        for (const delay of [1000, 4000, CALLBACK_WAIT_MS + 500]) setTimeout(checkCallbacks, delay);
      } catch (e) {
        node.classList.remove("busy");
        toast(t("failed", { error: e.message }), true);
      }
    }

    async send() {
      if (!this.ctx) return;
      const text = this.input.value;
      if (!text.trim() && !this.file) return;
      const body = { from: this.ctx.from, ...this.ctx.where };
      if (this.replyTo) body.reply_to_message_id = this.replyTo.message_id;
      if (this.file) {
        const kind = this.file.type.startsWith("image/") ? "photo" : "document";
        const spec = { content_base64: await base64(this.file), file_name: this.file.name };
        if (kind === "document" && this.file.type) spec.mime_type = this.file.type;
        body[kind] = spec;
        if (text.trim()) body.caption = text;
      } else {
        body.text = text;
      }
      const button = this.q("send");
      button.disabled = true;
      try {
        await api("POST", "/_emu/messages", body);
        this.input.value = "";
        this.grow();
        this.reply(null);
        this.attach(null);
        this.stick = true;
        refresh();
      } catch (e) {
        toast(t("failed", { error: e.message }), true);
      } finally {
        button.disabled = false;
      }
    }
  }

  function base64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  async function checkCallbacks() {
    const now = Date.now();
    for (const cb of [...S.callbacks]) {
      let answer = null;
      try {
        answer = await api("GET", `/_emu/callbacks/${encodeURIComponent(cb.id)}`);
      } catch (e) {
        answer = null;
      }
      if (!S.callbacks.includes(cb)) continue;
      if (answer && answer.answered) {
        S.callbacks.splice(S.callbacks.indexOf(cb), 1);
        cb.node.classList.remove("busy");
        if (answer.text) toast(answer.text, answer.show_alert);
      } else if (now > cb.until) {
        S.callbacks.splice(S.callbacks.indexOf(cb), 1);
        cb.node.classList.remove("busy");
        toast(t("no_answer"), true);
      }
    }
  }

  // --- which chats the panes show -----------------------------------------------------------
  function keyOf(view, team) {
    if (view.kind === "private") return `u${view.user}`;
    return `g${team ? team.chat_id : 0}:${view.kind === "general" ? "general" : view.thread}`;
  }

  function teamContext(o) {
    const team = o.team;
    const bot = o.bot || { username: "", name: "bot" };
    let v = S.view;
    if (v && v.kind === "private" && !o.operators.some((x) => x.id === v.user)) v = null;
    if (v && v.kind === "topic" && !(team && team.topics.some((x) => x.thread_id === v.thread))) v = null;
    if (v && v.kind === "general" && !team) v = null;
    if (!v) v = team ? { kind: "general" } : o.operators[0] ? { kind: "private", user: o.operators[0].id } : null;
    S.view = v;
    if (!v) return null;
    const key = keyOf(v, team);
    if (v.kind === "private") {
      const op = o.operators.find((x) => x.id === v.user);
      return {
        key, from: op.id, group: false, summary: op,
        url: `/sandbox/api/chat?user_id=${op.id}`,
        where: { to_bot: bot.username },
        title: t("operator_chat", { name: op.name }),
        subtitle: t("private_with", { bot: bot.username }),
      };
    }
    if (!o.operators.some((x) => x.id === S.as)) S.as = o.operators.length ? o.operators[0].id : null;
    const base = { key, from: S.as, group: true, operators: o.operators };
    if (v.kind === "general") {
      return {
        ...base, summary: team.general,
        url: `/sandbox/api/chat?chat_id=${team.chat_id}&thread_id=general`,
        where: { chat_id: team.chat_id },
        title: `${team.title} › ${t("general")}`,
        subtitle: t("members", { title: team.title }),
      };
    }
    const topic = team.topics.find((x) => x.thread_id === v.thread);
    return {
      ...base, summary: topic,
      url: `/sandbox/api/chat?chat_id=${team.chat_id}&thread_id=${topic.thread_id}`,
      where: { chat_id: team.chat_id, thread_id: topic.thread_id },
      title: topic.name,
      subtitle: topic.closed ? "🔒 " + t("topic_closed") : t("members", { title: team.title }),
    };
  }

  function phoneContext(o) {
    const bot = o.bot;
    if (!bot) return null;
    let client = o.clients.find((c) => c.id === S.client);
    if (!client && o.clients.length) client = o.clients[0];
    S.client = client ? client.id : null;
    if (!client) return null;
    return {
      key: `c${client.id}`, from: client.id, group: false, summary: client,
      url: `/sandbox/api/chat?user_id=${client.id}`,
      where: { to_bot: bot.username },
      title: bot.name,
      subtitle: "@" + bot.username,
    };
  }

  // --- the chat list -------------------------------------------------------------------------
  function unread(key, summary) {
    const seen = S.seen[key] || 0;
    return (summary.ids || []).filter((id) => id > seen).length;
  }

  function listItem(opts) {
    const count = unread(opts.key, opts.summary);
    const last = opts.summary.last;
    const avatar = el("span", { class: "avatar" }, opts.letter);
    avatar.style.background = opts.color;
    return el("button", {
      type: "button", class: "item" + (opts.active ? " active" : ""), "data-sb": opts.sb,
      "data-thread": opts.thread, "data-user": opts.user, onclick: opts.open,
    },
    avatar,
    el("span", { class: "item-body" },
      el("span", { class: "item-top" },
        el("span", { class: "item-name", "data-sb": "name" }, opts.name),
        opts.closed ? el("span", { class: "lock", "data-sb": "closed" }, "🔒") : null,
        el("span", { class: "grow" }),
        last ? el("span", { class: "item-time" }, clock(last.date)) : null),
      el("span", { class: "item-bottom" },
        el("span", { class: "item-last", "data-sb": "preview" }, last ? (last.is_bot ? "" : `${last.from_name}: `) + (last.text || t("kind_" + last.kind)) : ""),
        count ? el("span", { class: "unread", "data-sb": "unread" }, String(count)) : null)));
  }

  function open(view) {
    S.view = view;
    store.set("view", view);
    refresh();
  }

  function renderList(o) {
    const nav = document.querySelector("[data-sb=chat-list]");
    const parts = [];
    const team = o.team;
    const v = S.view || {};
    if (team) {
      parts.push(el("div", { class: "section" }, `${t("team_section")} · ${team.title}`));
      parts.push(listItem({
        sb: "topic", thread: "general", key: keyOf({ kind: "general" }, team), summary: team.general,
        name: t("general"), letter: "#", color: "#8e99a4", active: v.kind === "general",
        open: () => open({ kind: "general" }),
      }));
      for (const topic of team.topics) {
        parts.push(listItem({
          sb: "topic", thread: topic.thread_id, key: keyOf({ kind: "topic", thread: topic.thread_id }, team),
          summary: topic, name: topic.name, letter: (topic.name.replace(/^[^\p{L}\p{N}]+/u, "")[0] || "#").toUpperCase(),
          color: "#" + Number(topic.icon_color || 7322096).toString(16).padStart(6, "0"),
          closed: topic.closed, active: v.kind === "topic" && v.thread === topic.thread_id,
          open: () => open({ kind: "topic", thread: topic.thread_id }),
        }));
      }
    } else {
      parts.push(el("div", { class: "section" }, t("no_team")));
    }
    if (o.operators.length) parts.push(el("div", { class: "section" }, t("bot_section")));
    for (const op of o.operators) {
      parts.push(listItem({
        sb: "operator-chat", user: op.id, key: keyOf({ kind: "private", user: op.id }, team), summary: op,
        name: t("operator_chat", { name: op.name }), letter: (op.name[0] || "?").toUpperCase(),
        color: colorOf(op.id), active: v.kind === "private" && v.user === op.id,
        open: () => open({ kind: "private", user: op.id }),
      }));
    }
    nav.replaceChildren(...parts);
  }

  // --- the client's phone: pick or add a client -----------------------------------------------
  function phoneTools(o) {
    const tools = phoneTop;
    if (!tools.querySelector("select")) {
      const select = el("select", { "data-sb": "client-select", "aria-label": t("client_pick") });
      select.addEventListener("change", () => {
        S.client = Number(select.value);
        store.set("client", S.client);
        refresh();
      });
      const name = el("input", { "data-sb": "client-name", placeholder: t("client_name"), maxlength: 64 });
      const form = el("form", { class: "add-client", "data-sb": "client-form", hidden: true },
        name, el("button", { type: "submit", "data-sb": "client-create" }, t("client_create")));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const [first, ...rest] = name.value.trim().split(/\s+/);
        if (!first) return;
        try {
          const user = await api("POST", "/_emu/users", { first_name: first, last_name: rest.join(" ") || undefined, language_code: LANG });
          S.client = user.id;
          store.set("client", S.client);
          name.value = "";
          form.hidden = true;
          phone.stick = true;
          refresh();
        } catch (err) {
          toast(t("failed", { error: err.message }), true);
        }
      });
      const add = el("button", { type: "button", class: "tool", "data-sb": "client-add", title: t("client_add") }, "+");
      add.addEventListener("click", () => {
        form.hidden = !form.hidden;
        if (!form.hidden) name.focus();
      });
      tools.append(select, add);
      phoneTop.after(form);
    }
    const select = tools.querySelector("select");
    select.replaceChildren(...o.clients.map((c) => el("option", { value: c.id }, c.name)));
    select.hidden = !o.clients.length;
    if (S.client != null) select.value = String(S.client);
    if (!o.clients.length) phoneRoot.querySelector("[data-sb=client-form]").hidden = false;
  }

  // --- refreshing --------------------------------------------------------------------------------
  let refreshing = false;
  let again = false;

  async function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      do {
        again = false;
        await load();
      } while (again);
    } catch (e) {
      console.warn("sandbox refresh failed", e);
    } finally {
      refreshing = false;
    }
  }

  async function load() {
    const o = await api("GET", "/sandbox/api/overview");
    S.overview = o;
    const teamCtx = teamContext(o);
    const phoneCtx = phoneContext(o);
    const [teamView, phoneView] = await Promise.all([
      teamCtx ? api("GET", teamCtx.url) : null,
      phoneCtx ? api("GET", phoneCtx.url) : null,
    ]);
    team.setContext(teamCtx);
    if (teamCtx) {
      team.render(teamView.messages);
      if (document.visibilityState !== "hidden" && teamCtx.summary.ids.length) {
        S.seen[teamCtx.key] = Math.max(S.seen[teamCtx.key] || 0, ...teamCtx.summary.ids);
        store.set("seen", S.seen);
      }
    }
    phoneTools(o);
    phone.setContext(phoneCtx);
    phone.render(phoneCtx ? phoneView.messages : []);
    if (!phoneCtx) phone.q("empty").textContent = t("no_clients");
    renderList(o);
    if (S.callbacks.length) checkCallbacks();
  }

  let polling = null;

  function listen() {
    const events = new EventSource("/_emu/events");
    events.addEventListener("change", () => refresh());
    events.addEventListener("open", () => {
      if (polling) {
        clearInterval(polling);
        polling = null;
      }
    });
    events.addEventListener("error", () => {
      // EventSource reconnects by itself; only a refused stream (e.g. 404) closes it for good.
      if (events.readyState === EventSource.CLOSED && !polling) {
        toast(t("offline"));
        polling = setInterval(refresh, POLL_MS);
      }
    });
  }

  async function reset() {
    if (!window.confirm(t("reset_confirm"))) return;
    try {
      await api("POST", "/_emu/sandbox/reset", {});
    } catch (e) {
      toast(e.status === 404 || e.status === 405 ? t("reset_missing") : t("failed", { error: e.message }), true);
      return;
    }
    S.seen = {};
    S.view = null;
    S.client = null;
    store.set("seen", {});
    store.set("view", null);
    store.set("client", null);
    toast(t("reset_done"));
    refresh();
  }

  // --- start ----------------------------------------------------------------------------------------
  document.documentElement.lang = LANG;
  for (const node of document.querySelectorAll("[data-i18n]")) {
    if (!node.closest("template")) node.textContent = t(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  document.querySelector("[data-sb=reset]").addEventListener("click", reset);
  const team = new Pane(document.querySelector("[data-sb=team-pane]"));
  const phoneRoot = document.querySelector("[data-sb=phone-pane]");
  const phoneTop = el("div", { class: "phone-label" }, el("span", { class: "grow" }, "📱 " + t("phone")));
  phoneRoot.append(phoneTop);
  const phoneScreen = el("div", { class: "screen" });
  phoneRoot.append(phoneScreen);
  const phone = new Pane(phoneScreen);
  // Links to a topic of the team group (eadesk's board and notices) open it here.
  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest("a[data-thread]");
    if (!a) return;
    e.preventDefault();
    const thread = Number(a.dataset.thread);
    open(thread === 1 ? { kind: "general" } : { kind: "topic", thread });
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
  fetch("/webchat/demo").then((res) => {
    document.querySelector("[data-sb=webchat-link]").hidden = !res.ok;
  }, () => {});
  listen();
  refresh();
})();
