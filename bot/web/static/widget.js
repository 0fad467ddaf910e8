// The shop's chat widget: Rasa's socket.io channel, no framework. All text reaches the page
// through textContent or through the small markdown renderer below, which escapes first.
(function () {
  "use strict";
  var rasaUrl = document.body.getAttribute("data-rasa-url");
  var STORE = "shop-assistant";
  var state = loadState();

  function loadState() {
    try {
      var saved = JSON.parse(localStorage.getItem(STORE) || "{}");
      if (saved && typeof saved.sessionId === "string" && Array.isArray(saved.log)) {
        saved.handoff = cleanHandoff(saved.handoff);
        return saved;
      }
    } catch (e) { /* a broken entry starts a new session */ }
    var id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID().replace(/-/g, "") : String(Date.now()) + Math.random().toString(16).slice(2);
    return { sessionId: id, log: [], open: false, handoff: null };
  }
  // A handoff status from the server (or the saved state): only the fields the bar shows.
  function cleanHandoff(h) {
    if (!h || typeof h !== "object" || (h.status !== "waiting" && h.status !== "claimed")) return null;
    var position = typeof h.position === "number" && isFinite(h.position) ? h.position : null;
    var agent = typeof h.agent === "string" && h.agent ? h.agent : null;
    return { status: h.status, position: position, agent: agent };
  }
  function saveState() {
    state.log = state.log.slice(-200);
    localStorage.setItem(STORE, JSON.stringify(state));
  }

  // ---- markdown, after escaping: **bold**, _italic_ / *italic*, [links](https://...), lists ----
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function inline(text) {
    return escapeHtml(text)
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[\s(])_([^_]+)_(?=$|[\s).,!?])/g, "$1<em>$2</em>")
      .replace(/(^|[\s(])\*([^*]+)\*(?=$|[\s).,!?])/g, "$1<em>$2</em>")
      .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+|\/[^\s)]*|#[^\s)]*)\)/g, '<a href="$2" rel="noopener noreferrer">$1</a>');
  }
  function markdown(text) {
    var out = [], list = null;
    String(text).split("\n").forEach(function (line) {
      var item = /^\s*[-*]\s+(.*)$/.exec(line);
      if (item) {
        if (!list) { list = []; }
        list.push("<li>" + inline(item[1]) + "</li>");
        return;
      }
      if (list) { out.push("<ul>" + list.join("") + "</ul>"); list = null; }
      if (line.trim()) out.push("<p>" + inline(line) + "</p>");
    });
    if (list) out.push("<ul>" + list.join("") + "</ul>");
    return out.join("");
  }

  // ---- the DOM ----
  // The card's own currency, as the bot's text replies write it ("£7.95"); the browser's Intl
  // knows every ISO code, and a code it doesn't know is shown beside the number.
  // "from" the lowest price where the product's variants cost different amounts (price_max).
  function priceText(p) {
    var amount = Number(p.price);
    var from = p.price_max ? "from " : "";
    try {
      return from + new Intl.NumberFormat("en", { style: "currency", currency: p.currency || "USD" }).format(amount);
    } catch (err) {
      return from + (p.currency || "") + " " + amount.toFixed(2);
    }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  var launcher = el("button", { "class": "chat-launcher", "aria-label": "Open chat with the shop assistant", "aria-expanded": "false", "aria-controls": "chat-panel" }, "Chat");
  var panel = el("section", { id: "chat-panel", "class": "chat-panel", role: "dialog", "aria-label": "Shop assistant chat", hidden: "" });
  var header = el("header", { "class": "chat-header" });
  header.appendChild(el("h2", {}, "Shop assistant"));
  var close = el("button", { "class": "chat-close", "aria-label": "Close chat" }, "×");
  header.appendChild(close);
  var logNode = el("div", { "class": "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("div", { "class": "chat-typing", "aria-live": "polite", hidden: "" }, "Assistant is typing…");
  var handoffBar = el("div", { "class": "chat-handoff", role: "status", hidden: "" });
  var handoffText = el("span", { "class": "chat-handoff-text" }, "");
  var backButton = el("button", { type: "button", "class": "chat-handoff-back" }, "Back to the assistant");
  handoffBar.appendChild(handoffText); handoffBar.appendChild(backButton);
  var form = el("form", { "class": "chat-form" });
  var input = el("input", { type: "text", "class": "chat-input", "aria-label": "Your message", placeholder: "Ask about orders, products, returns…", maxlength: "2000", autocomplete: "off" });
  var send = el("button", { type: "submit", "class": "chat-send", "aria-label": "Send message" }, "Send");
  form.appendChild(input); form.appendChild(send);
  panel.appendChild(header); panel.appendChild(logNode); panel.appendChild(typing); panel.appendChild(handoffBar); panel.appendChild(form);
  document.body.appendChild(launcher); document.body.appendChild(panel);

  function setOpen(open) {
    state.open = open; saveState();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) input.focus(); else launcher.focus();
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });

  // ---- rendering ----
  function scroll() { logNode.scrollTop = logNode.scrollHeight; }
  function renderUser(text) {
    var bubble = el("div", { "class": "msg user" }, text);
    logNode.appendChild(bubble);
  }
  function renderBot(message, live) {
    if (message.text) {
      var human = typeof message.agent === "string" && message.agent;
      var bubble = el("div", { "class": human ? "msg agent" : "msg bot" });
      bubble.appendChild(el("div", { "class": "msg-from" }, human ? message.agent + " · customer care" : "Assistant"));
      if (human) {
        bubble.appendChild(el("div", { "class": "msg-text" }, String(message.text)));  // a person's words, as typed
      } else {
        var body = el("div", { "class": "msg-text" });
        body.innerHTML = markdown(message.text);  // escaped inside markdown()
        bubble.appendChild(body);
      }
      logNode.appendChild(bubble);
    }
    var replies = message.quick_replies || message.buttons || [];
    if (replies.length && live) {
      var group = el("div", { "class": "quick-replies", role: "group", "aria-label": "Suggested replies" });
      replies.forEach(function (r) {
        var b = el("button", { "class": "quick-reply", type: "button" }, r.title);
        b.addEventListener("click", function () { group.remove(); sendMessage(r.payload, r.title); });
        group.appendChild(b);
      });
      logNode.appendChild(group);
    }
    var custom = message.custom;
    if (custom && custom.type === "product_cards" && Array.isArray(custom.products)) {
      logNode.appendChild(renderCards(custom.products));
    }
    scroll();
  }
  function renderCards(products) {
    var row = el("div", { "class": "cards", role: "list", "aria-label": "Products" });
    products.forEach(function (p) {
      var card = el("article", { "class": "card", role: "listitem", "data-product-id": String(p.id) });
      var img = el("div", { "class": "card-img", "aria-hidden": "true" }, "");
      var link = el("a", { href: "#" + encodeURIComponent(String(p.id)), "class": "card-title" }, String(p.title));
      var price = el("div", { "class": "card-price" }, priceText(p));
      var rating = el("div", { "class": "card-rating", "aria-label": "rated " + p.rating + " out of 5" }, "★ " + p.rating);
      var reason = el("div", { "class": "card-reason" }, String(p.reason || ""));
      var thumbs = el("div", { "class": "card-thumbs" });
      [["up", "Like", "I like this"], ["down", "Not for me", "Not for me"]].forEach(function (t) {
        var b = el("button", { type: "button", "class": "thumb thumb-" + t[0], "aria-label": t[2] + ": " + p.title, "aria-pressed": "false" }, t[1]);
        b.addEventListener("click", function () {
          thumbs.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-pressed", "false"); });
          b.setAttribute("aria-pressed", "true");
          sendMessage('/product_feedback{"product_id": ' + JSON.stringify(String(p.id)) + ', "feedback": "' + t[0] + '"}', null);
        });
        thumbs.appendChild(b);
      });
      [img, link, price, rating, reason, thumbs].forEach(function (n) { card.appendChild(n); });
      row.appendChild(card);
    });
    return row;
  }
  function replay() {
    logNode.textContent = "";
    state.log.forEach(function (entry, i) {
      if (entry.from === "user") renderUser(entry.text);
      else renderBot(entry.message, i === state.log.length - 1);
    });
    scroll();
  }

  // ---- typing indicator: the assistant's after a message is sent, a colleague's while they type ----
  var typingTimer = null;
  function showTyping(text, ms) {
    typing.textContent = text;
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, ms);
  }
  function hideTyping() { clearTimeout(typingTimer); typingTimer = null; typing.hidden = true; }

  // ---- handoff to a person: the status bar above the input ----
  function humanInCharge() { return !!state.handoff; }
  function renderHandoff() {
    var h = state.handoff;
    if (!h) { handoffBar.hidden = true; handoffText.textContent = ""; return; }
    if (h.status === "waiting") {
      handoffText.textContent = "Waiting for a colleague…" + (h.position !== null ? " you're number " + h.position + " in the queue" : "");
    } else {
      handoffText.textContent = "You're chatting with " + (h.agent || "a colleague") + " from customer care";
    }
    handoffBar.hidden = false;
  }
  function setHandoff(status) {
    if (!status || typeof status !== "object") return;
    state.handoff = cleanHandoff(status);
    if (!state.handoff) hideTyping();
    saveState();
    renderHandoff();
  }
  backButton.addEventListener("click", function () {
    setHandoff({ status: "ended" });
    sendMessage("/back_to_assistant", "Back to the assistant");
    input.focus();
  });

  // ---- talking to Rasa ----
  var socket = io(rasaUrl, { path: "/socket.io", transports: ["websocket", "polling"] });
  socket.on("connect", function () { socket.emit("session_request", { session_id: state.sessionId }); });
  socket.on("handoff_status", setHandoff);
  socket.on("agent_typing", function (data) {
    var who = data && typeof data.agent === "string" && data.agent ? data.agent : "A colleague";
    showTyping(who + " is typing…", 3000);
  });
  socket.on("bot_uttered", function (message) {
    hideTyping();
    if (!message || typeof message !== "object") return;
    delete message.room;
    if (message.custom && message.custom.type === "handoff_status") {
      setHandoff(message.custom);
      delete message.custom;  // a status, not a bubble
      if (!message.text && !(message.quick_replies || message.buttons || []).length) return;
    }
    state.log.push({ from: "bot", message: message }); saveState();
    logNode.querySelectorAll(".quick-replies").forEach(function (g) { g.remove(); });
    renderBot(message, true);
  });
  function currentProduct() {
    var id = decodeURIComponent((location.hash || "").slice(1));
    return /^[A-Za-z0-9_-]{1,64}$/.test(id) && document.getElementById(id) ? id : null;
  }
  function sendMessage(text, shownAs) {
    if (!text || !text.trim()) return;
    if (shownAs !== null) {
      var label = shownAs || text;
      state.log.push({ from: "user", text: label }); saveState();
      renderUser(label); scroll();
    }
    var product = currentProduct();
    socket.emit("user_uttered", { message: text, session_id: state.sessionId, metadata: product ? { product_id: product } : {} });
    if (!humanInCharge()) showTyping("Assistant is typing…", 15000);  // a person answers at their own pace
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value; input.value = "";
    sendMessage(text);
  });

  replay();
  renderHandoff();
  if (state.open) { panel.hidden = false; launcher.setAttribute("aria-expanded", "true"); }
})();
