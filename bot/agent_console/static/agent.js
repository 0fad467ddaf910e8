// The customer care console: agents see the queue of shoppers waiting for a person, claim a
// conversation, read the assistant's summary and the transcript, and answer the shopper. No
// framework; every piece of text reaches the page through textContent.
(function () {
  "use strict";
  var API = "/agent/api";
  var POLL_MS = 15000;
  var TYPING_EVERY_MS = 2000;

  var me = null;            // {name, display_name, csrf} once logged in
  var socket = null;
  var pollTimer = null;
  var queueRows = [];       // the last queue payload's conversations
  var agents = [];          // [{name, display_name}]
  var open = null;          // the open conversation: {id, handoff, closed, seq}
  var openSeq = 0;          // ignores answers for a conversation that is no longer open
  var pendingSends = [];    // replies sent from here, to match with the socket's echo
  var lastTypingAt = 0;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  var alertNode = $("alert");
  var loginView = $("login-view"), consoleView = $("console-view");
  var loginForm = $("login-form"), loginName = $("login-name"), loginPassword = $("login-password");
  var loginSubmit = $("login-submit");
  var meBox = $("me"), meName = $("me-name"), logoutButton = $("logout");
  var queueNode = $("queue"), queueEmpty = $("queue-empty");
  var convHeading = $("conversation-heading"), convEmpty = $("conversation-empty"), convBody = $("conversation-body");

  // ---- errors ----
  function showError(message) {
    alertNode.textContent = String(message || "Something went wrong.");
    alertNode.hidden = false;
  }
  function clearError() { alertNode.hidden = true; alertNode.textContent = ""; }

  // ---- the JSON API ----
  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      if (me && me.csrf) options.headers["X-CSRF-Token"] = me.csrf;
      options.body = JSON.stringify(body || {});
    }
    return fetch(API + path, options).catch(function () {
      throw new Error("The server could not be reached.");
    }).then(function (response) {
      return response.text().then(function (raw) {
        var data = {};
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {}; }
        if (!response.ok) {
          var fromServer = !!(data && typeof data.error === "string" && data.error);
          var error = new Error(fromServer ? data.error : "Request failed (" + response.status + ").");
          error.status = response.status;
          error.fromServer = fromServer;
          throw error;
        }
        return data || {};
      });
    });
  }
  // A failed request made by the agent: a lost session goes back to the login form.
  function fail(error) {
    if (error && error.status === 401 && me) {
      loggedOut();
      showError("Your session has ended. Please log in again.");
      return;
    }
    showError(error && error.message ? error.message : "The server could not be reached.");
  }
  // A failed background refresh: only a lost session is worth telling.
  function quietFail(error) {
    if (error && error.status === 401 && me) fail(error);
  }

  // ---- formatting ----
  function waited(seconds) {
    var s = Math.max(0, Math.floor(Number(seconds) || 0));
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }
  function clock(ts) {
    var n = Number(ts);
    if (!isFinite(n) || n <= 0) return "";
    return new Date(n * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function agentLabel(row) { return row.agent_display || row.agent || "another agent"; }
  function displayNameOf(name) {
    if (me && name === me.name) return me.display_name;
    for (var i = 0; i < agents.length; i++) if (agents[i].name === name) return agents[i].display_name || name;
    return name;
  }
  function mine(handoff) { return !!(me && handoff && handoff.status === "claimed" && handoff.agent === me.name); }

  // ---- logging in and out ----
  function loggedIn(data) {
    me = { name: String(data.name || ""), display_name: String(data.display_name || data.name || ""), csrf: String(data.csrf || "") };
    meName.textContent = me.display_name;
    meBox.hidden = false;
    loginView.hidden = true;
    consoleView.hidden = false;
    loginPassword.value = "";
    loadQueue();
    loadAgents();
    connect();
    clearInterval(pollTimer);
    pollTimer = setInterval(loadQueue, POLL_MS);
  }
  function loggedOut() {
    me = null;
    clearInterval(pollTimer); pollTimer = null;
    if (socket) { socket.off(); socket.disconnect(); socket = null; }
    queueRows = []; agents = []; pendingSends = [];
    closeConversation();
    queueNode.textContent = "";
    meName.textContent = "";
    meBox.hidden = true;
    consoleView.hidden = true;
    loginView.hidden = false;
    loginName.focus();
  }
  loginForm.addEventListener("submit", function (e) {
    e.preventDefault();
    clearError();
    var name = loginName.value.trim(), password = loginPassword.value;
    if (!name || !password) { showError("Enter your name and password."); return; }
    loginSubmit.disabled = true;
    api("POST", "/login", { name: name, password: password }).then(function (data) {
      loginSubmit.disabled = false;
      loggedIn(data);
    }, function (error) {
      loginSubmit.disabled = false;
      var message = error.message;
      if (!error.fromServer && error.status === 401) message = "Wrong name or password.";
      if (!error.fromServer && error.status === 429) message = "Too many failed attempts. Please wait a while and try again.";
      showError(message);
      loginPassword.value = "";
      loginPassword.focus();
    });
  });
  logoutButton.addEventListener("click", function () {
    clearError();
    api("POST", "/logout").then(loggedOut, function (error) {
      if (error.status === 401) loggedOut(); else fail(error);
    });
  });

  // ---- live updates ----
  function connect() {
    if (typeof window.io !== "function") {
      showError("Live updates are unavailable; the queue refreshes every 15 seconds.");
      return;
    }
    socket = window.io("/agent", { path: "/socket.io", transports: ["websocket", "polling"], withCredentials: true });
    socket.on("connect", loadQueue);
    socket.on("queue", function (payload) { if (me) renderQueue(payload); });
    socket.on("message", onMessage);
    socket.on("handoff_closed", function (data) {
      if (!data || !open || Number(data.handoff_id) !== open.id) return;
      markClosed("The conversation went back to the assistant");
      loadQueue();
    });
  }
  function loadQueue() {
    if (!me) return;
    api("GET", "/queue").then(function (data) { if (me) renderQueue(data); }, quietFail);
  }
  function loadAgents() {
    return api("GET", "/agents").then(function (data) {
      agents = Array.isArray(data.agents) ? data.agents : [];
      fillTransferSelect();
    }, quietFail);
  }

  // ---- the queue ----
  function renderQueue(payload) {
    var rows = payload && Array.isArray(payload.conversations) ? payload.conversations : [];
    queueRows = rows;
    // keep the keyboard where it was: the same button of the same conversation
    var active = document.activeElement, focusId = null, focusClass = null;
    if (active && queueNode.contains(active)) {
      var item = active.closest("[data-handoff-id]");
      focusId = item ? item.getAttribute("data-handoff-id") : null;
      focusClass = active.classList.contains("claim") ? "claim" : "open";
    }
    queueNode.textContent = "";
    rows.forEach(function (row) { queueNode.appendChild(queueItem(row)); });
    queueEmpty.hidden = rows.length > 0;
    if (focusId !== null) {
      var again = queueNode.querySelector('[data-handoff-id="' + CSS.escape(focusId) + '"] .' + focusClass) ||
        queueNode.querySelector('[data-handoff-id="' + CSS.escape(focusId) + '"] .open');
      if (again) again.focus();
    }
    if (open) {
      // the open conversation changed hands (claimed, transferred): show it as it is now
      var now = null;
      rows.forEach(function (row) { if (Number(row.id) === open.id) now = row; });
      if (now && !open.closed && !open.loading && (now.status !== open.handoff.status || now.agent !== open.handoff.agent)) {
        openConversation(open.id, { keepDraft: true });
      }
    }
  }
  function queueItem(row) {
    var id = Number(row.id);
    var item = el("div", {
      role: "listitem",
      "class": "queue-item " + (row.status === "claimed" ? "claimed" : "waiting") + (mine(row) ? " mine" : "") + (open && open.id === id ? " current" : ""),
      "data-handoff-id": String(id)
    });
    var info = el("div", { "class": "queue-info" });
    var top = el("div", { "class": "queue-top" });
    top.appendChild(el("span", { "class": "queue-wait" }, waited(row.waiting_s)));
    if (row.status === "waiting" && row.position !== null && row.position !== undefined) {
      top.appendChild(el("span", { "class": "queue-position" }, "#" + row.position + " in line"));
    }
    info.appendChild(top);
    info.appendChild(el("div", { "class": "queue-trigger" }, String(row.trigger || "")));
    var facts = el("div", { "class": "queue-facts" });
    if (row.sentiment) facts.appendChild(el("span", { "class": "tag sentiment sentiment-" + String(row.sentiment).replace(/[^a-z0-9_-]/gi, "") }, "Sentiment: " + row.sentiment));
    if (row.last_intent) facts.appendChild(el("span", { "class": "tag intent" }, "Last intent: " + row.last_intent));
    if (row.order_id) facts.appendChild(el("span", { "class": "tag order" }, "Order " + row.order_id));
    if (facts.childNodes.length) info.appendChild(facts);
    if (row.status === "claimed") {
      info.appendChild(el("div", { "class": "queue-claimed" }, "claimed by " + agentLabel(row) + (mine(row) ? " (you)" : "")));
    }
    item.appendChild(info);

    var actions = el("div", { "class": "queue-actions" });
    var openButton = el("button", { type: "button", "class": "open", "aria-label": "Open conversation " + id }, "Open");
    actions.appendChild(openButton);
    if (row.status === "waiting") {
      var claim = el("button", { type: "button", "class": "claim" }, "Claim");
      claim.addEventListener("click", function (e) { e.stopPropagation(); claimConversation(id, claim); });
      actions.appendChild(claim);
    }
    item.appendChild(actions);
    item.addEventListener("click", function (e) {
      if (e.target.closest && e.target.closest(".claim")) return;
      clearError();
      openConversation(id, { focus: "heading" });
    });
    return item;
  }
  function markCurrentInQueue() {
    Array.prototype.forEach.call(queueNode.querySelectorAll(".queue-item"), function (node) {
      node.classList.toggle("current", !!open && Number(node.getAttribute("data-handoff-id")) === open.id);
    });
  }
  function claimConversation(id, button) {
    clearError();
    if (button) button.disabled = true;
    api("POST", "/conversations/" + id + "/claim").then(function () {
      loadQueue();
      openConversation(id, { focus: "reply" });
    }, function (error) {
      if (button) button.disabled = false;
      fail(error);
      loadQueue();
    });
  }

  // ---- the open conversation ----
  function closeConversation() {
    open = null;
    openSeq++;
    convBody.textContent = "";
    convHeading.textContent = "Conversation";
    convEmpty.hidden = false;
    markCurrentInQueue();
  }
  function openConversation(id, options) {
    options = options || {};
    var draft = null;
    if (options.keepDraft && open && open.id === id) {
      draft = { reply: $("reply") ? $("reply").value : "", note: $("note") ? $("note").value : "" };
    }
    var seq = ++openSeq;
    if (!open || open.id !== id) {
      open = { id: id, handoff: { status: null, agent: null }, closed: false, loading: true };
      pendingSends = [];
    } else {
      open.loading = true;
      if (!options.keepDraft) open.closed = false;  // opened again on purpose: show it as the server has it
    }
    markCurrentInQueue();
    api("GET", "/conversations/" + id).then(function (data) {
      if (seq !== openSeq) return;
      renderConversation(id, data, draft);
      if (options.focus === "reply" && $("reply")) $("reply").focus();
      else if (options.focus === "heading") convHeading.focus();
    }, function (error) {
      if (seq !== openSeq) return;
      if (open) open.loading = false;
      if (options.keepDraft) quietFail(error); else fail(error);
    });
  }
  function renderConversation(id, data, draft) {
    var handoff = data.handoff || {};
    var wasClosed = open && open.id === id && open.closed;
    open = { id: id, handoff: handoff, closed: wasClosed, loading: false };
    convEmpty.hidden = true;
    convBody.textContent = "";
    convHeading.textContent = "Shopper " + String(handoff.sender_id || id);

    var meta = el("p", { "class": "conversation-meta" });
    var status = handoff.status === "claimed"
      ? (mine(handoff) ? "Claimed by you" : "Claimed by " + agentLabel(handoff))
      : "Waiting for " + waited(handoff.waiting_s);
    var bits = [status];
    if (handoff.trigger) bits.push("Trigger: " + handoff.trigger);
    if (handoff.sentiment) bits.push("Sentiment: " + handoff.sentiment);
    if (handoff.last_intent) bits.push("Last intent: " + handoff.last_intent);
    if (handoff.order_id) bits.push("Order " + handoff.order_id);
    meta.textContent = bits.join(" · ");
    convBody.appendChild(meta);

    var notice = el("p", { id: "conversation-notice", "class": "notice", role: "status", hidden: "" });
    convBody.appendChild(notice);

    convBody.appendChild(renderSummary(data.summary || {}));

    var transcriptSection = el("section", { "class": "transcript-section", "aria-labelledby": "transcript-heading" });
    transcriptSection.appendChild(el("h3", { id: "transcript-heading" }, "Transcript"));
    var transcript = el("div", { id: "transcript", "class": "transcript", role: "log", "aria-live": "polite", "aria-labelledby": "transcript-heading", tabindex: "0" });
    (Array.isArray(data.transcript) ? data.transcript : []).forEach(function (entry) { transcript.appendChild(transcriptEntry(entry)); });
    transcriptSection.appendChild(transcript);
    convBody.appendChild(transcriptSection);

    var notesSection = el("section", { "class": "notes-section", "aria-labelledby": "notes-heading" });
    notesSection.appendChild(el("h3", { id: "notes-heading" }, "Internal notes"));
    var notes = el("ul", { id: "notes", "class": "notes" });
    (Array.isArray(data.notes) ? data.notes : []).forEach(function (n) { notes.appendChild(noteItem(n)); });
    notesSection.appendChild(notes);
    notesSection.appendChild(el("p", { id: "notes-empty", "class": "muted" }, "No notes yet."));
    convBody.appendChild(notesSection);
    updateNotesEmpty();

    if (mine(handoff)) {
      convBody.appendChild(renderActions(draft));
    } else if (handoff.status === "waiting") {
      convBody.appendChild(el("p", { "class": "muted" }, "Claim this conversation in the queue to answer the shopper."));
    }
    transcript.scrollTop = transcript.scrollHeight;
    if (open.closed) markClosed("The conversation went back to the assistant");
  }
  function renderSummary(summary) {
    var section = el("section", { "class": "summary", "aria-labelledby": "summary-heading" });
    section.appendChild(el("h3", { id: "summary-heading" }, "Summary"));
    var any = false;
    [["searches", "Searches"], ["questions", "Questions"], ["orders", "Orders"]].forEach(function (part) {
      var items = Array.isArray(summary[part[0]]) ? summary[part[0]] : [];
      if (!items.length) return;
      any = true;
      section.appendChild(el("h4", {}, part[1]));
      var list = el("ul", { "class": "summary-" + part[0] });
      items.forEach(function (text) { list.appendChild(el("li", {}, String(text))); });
      section.appendChild(list);
    });
    if (!any) section.appendChild(el("p", { "class": "muted" }, "Nothing to summarise yet."));
    return section;
  }
  function speaker(entry) {
    if (entry.from === "user") return "Shopper";
    if (entry.from === "bot") return "Assistant";
    return entry.name ? String(entry.name) : "Agent";
  }
  function transcriptEntry(entry) {
    var from = entry.from === "user" || entry.from === "bot" || entry.from === "agent" ? entry.from : "bot";
    var node = el("div", { "class": "entry from-" + from, "data-from": from });
    var head = el("div", { "class": "entry-head" });
    head.appendChild(el("span", { "class": "entry-who" }, speaker(entry)));
    var time = clock(entry.ts);
    if (time) head.appendChild(el("span", { "class": "entry-time" }, time));
    node.appendChild(head);
    node.appendChild(el("div", { "class": "entry-text" }, String(entry.text === undefined || entry.text === null ? "" : entry.text)));
    return node;
  }
  function appendEntry(entry) {
    var transcript = $("transcript");
    if (!transcript) return;
    var atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    transcript.appendChild(transcriptEntry(entry));
    if (atBottom || entry.from === "agent") transcript.scrollTop = transcript.scrollHeight;
  }
  function noteItem(n) {
    var li = el("li", { "class": "note" });
    var head = el("div", { "class": "note-head" });
    head.appendChild(el("span", { "class": "note-who" }, displayNameOf(String(n.agent || ""))));
    var time = clock(n.ts);
    if (time) head.appendChild(el("span", { "class": "note-time" }, time));
    li.appendChild(head);
    li.appendChild(el("div", { "class": "note-text" }, String(n.text || "")));
    return li;
  }
  function updateNotesEmpty() {
    var notes = $("notes"), empty = $("notes-empty");
    if (notes && empty) empty.hidden = notes.children.length > 0;
  }

  // ---- answering: reply, note, transfer, resolve ----
  function renderActions(draft) {
    var box = el("section", { id: "actions", "class": "actions", "aria-label": "Answer the shopper" });

    var replyForm = el("form", { id: "reply-form", "class": "reply-form" });
    replyForm.appendChild(el("label", { "for": "reply" }, "Reply to shopper"));
    var reply = el("textarea", { id: "reply", rows: "3", maxlength: "2000", "aria-describedby": "reply-hint" });
    if (draft && draft.reply) reply.value = draft.reply;
    replyForm.appendChild(reply);
    var replyRow = el("div", { "class": "row" });
    replyRow.appendChild(el("span", { id: "reply-hint", "class": "hint" }, "Enter sends, Shift+Enter adds a line."));
    var send = el("button", { type: "submit", id: "reply-send" }, "Send");
    replyRow.appendChild(send);
    replyForm.appendChild(replyRow);
    replyForm.addEventListener("submit", function (e) { e.preventDefault(); sendReply(); });
    reply.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendReply(); }
    });
    reply.addEventListener("input", function () {
      if (!open || open.closed || !reply.value.trim()) return;
      var now = Date.now();
      if (now - lastTypingAt < TYPING_EVERY_MS) return;
      lastTypingAt = now;
      api("POST", "/conversations/" + open.id + "/typing").catch(quietFail);
    });
    box.appendChild(replyForm);

    var noteForm = el("form", { id: "note-form", "class": "note-form" });
    noteForm.appendChild(el("label", { "for": "note" }, "Internal note (only agents see it)"));
    var noteRow = el("div", { "class": "row" });
    var note = el("input", { id: "note", type: "text", maxlength: "2000", autocomplete: "off" });
    if (draft && draft.note) note.value = draft.note;
    noteRow.appendChild(note);
    noteRow.appendChild(el("button", { type: "submit", id: "note-add" }, "Add note"));
    noteForm.appendChild(noteRow);
    noteForm.addEventListener("submit", function (e) { e.preventDefault(); addNote(); });
    box.appendChild(noteForm);

    var transferForm = el("form", { id: "transfer-form", "class": "transfer-form" });
    transferForm.appendChild(el("label", { "for": "transfer-to" }, "Transfer to"));
    var transferRow = el("div", { "class": "row" });
    transferRow.appendChild(el("select", { id: "transfer-to" }));
    transferRow.appendChild(el("button", { type: "submit", id: "transfer" }, "Transfer"));
    transferForm.appendChild(transferRow);
    transferForm.addEventListener("submit", function (e) { e.preventDefault(); transfer(); });
    box.appendChild(transferForm);

    var resolveRow = el("div", { "class": "row resolve-row" });
    var resolveButton = el("button", { type: "button", id: "resolve", "class": "resolve" }, "Resolve");
    resolveButton.addEventListener("click", resolve);
    resolveRow.appendChild(el("span", { "class": "hint" }, "Hands the shopper back to the assistant."));
    resolveRow.appendChild(resolveButton);
    box.appendChild(resolveRow);

    setTimeout(fillTransferSelect, 0);
    if (!agents.length) loadAgents();
    return box;
  }
  function fillTransferSelect() {
    var select = $("transfer-to"), button = $("transfer");
    if (!select) return;
    var chosen = select.value;
    select.textContent = "";
    var others = agents.filter(function (a) { return a && a.name && (!me || a.name !== me.name); });
    others.forEach(function (a) {
      select.appendChild(el("option", { value: String(a.name) }, String(a.display_name || a.name)));
    });
    if (!others.length) select.appendChild(el("option", { value: "" }, "No other agents"));
    if (chosen) select.value = chosen;
    var closed = open && open.closed;
    select.disabled = !others.length || !!closed;
    if (button) button.disabled = !others.length || !!closed;
  }
  function sendReply() {
    var reply = $("reply");
    if (!open || open.closed || !reply) return;
    var text = reply.value.trim();
    if (!text) return;
    clearError();
    var id = open.id, seq = openSeq;
    var pending = { id: id, text: text, shown: false, seen: false };
    pendingSends.push(pending);
    reply.value = "";
    api("POST", "/conversations/" + id + "/message", { text: text }).then(function () {
      lastTypingAt = 0;
      if (pending.seen || seq !== openSeq) { forget(pending); return; }
      pending.shown = true;  // the socket's echo, if any, is skipped
      appendEntry({ from: "agent", name: me ? me.display_name : null, text: text, ts: Date.now() / 1000 });
      setTimeout(function () { forget(pending); }, 15000);
    }, function (error) {
      forget(pending);
      if (seq === openSeq && $("reply") && !$("reply").value) $("reply").value = text;
      fail(error);
    });
  }
  function forget(pending) {
    var i = pendingSends.indexOf(pending);
    if (i >= 0) pendingSends.splice(i, 1);
  }
  function onMessage(data) {
    if (!data || !open || Number(data.handoff_id) !== open.id) return;
    if (data.from === "agent") {
      for (var i = 0; i < pendingSends.length; i++) {
        var p = pendingSends[i];
        if (p.id === open.id && p.text === String(data.text).trim()) {
          if (p.shown) { forget(p); return; }  // already on the page
          if (!p.seen) { p.seen = true; break; }
        }
      }
    }
    appendEntry(data);
  }
  function addNote() {
    var note = $("note");
    if (!open || !note) return;
    var text = note.value.trim();
    if (!text) return;
    clearError();
    var id = open.id, seq = openSeq;
    api("POST", "/conversations/" + id + "/note", { text: text }).then(function () {
      if (seq !== openSeq) return;
      note.value = "";
      var notes = $("notes");
      if (notes) notes.appendChild(noteItem({ agent: me ? me.name : "", text: text, ts: Date.now() / 1000 }));
      updateNotesEmpty();
    }, fail);
  }
  function transfer() {
    var select = $("transfer-to");
    if (!open || !select || !select.value) return;
    clearError();
    var to = select.value, id = open.id;
    api("POST", "/conversations/" + id + "/transfer", { to: to }).then(function () {
      if (open && open.id === id) markClosed("Transferred to " + displayNameOf(to) + ".");
      loadQueue();
    }, fail);
  }
  function resolve() {
    if (!open) return;
    clearError();
    var id = open.id;
    api("POST", "/conversations/" + id + "/resolve").then(function () {
      if (open && open.id === id) markClosed("The conversation went back to the assistant");
      loadQueue();
    }, fail);
  }
  // The conversation is no longer this agent's to answer: say so and lock the answer forms.
  function markClosed(message) {
    if (!open) return;
    open.closed = true;
    var notice = $("conversation-notice");
    if (notice) { notice.textContent = message; notice.hidden = false; }
    ["reply", "reply-send", "transfer-to", "transfer", "resolve"].forEach(function (id) {
      var node = $(id);
      if (node) node.disabled = true;
    });
  }

  // ---- start: logged in already? ----
  api("GET", "/me").then(loggedIn, function (error) {
    loginView.hidden = false;
    if (error.status !== 401) showError(error.message);
    loginName.focus();
  });
})();
