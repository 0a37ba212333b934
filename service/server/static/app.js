// citeqa chat page. No framework, no build step, no third-party code.
// Everything that comes from the server or from articles is inserted as text (textContent,
// createElement, append(string)); never as HTML.
"use strict";

(() => {
  const { $, el, api, toUnits, formatDate, snippet } = window.citeqaDom;
  const form = $("ask-form");
  const input = $("question");
  const sendBtn = $("send");
  const scroller = $("scroller");
  const conversation = $("conversation");
  const statusEl = $("status");
  const statusText = $("status-text");
  const reader = $("reader");
  const readerTitle = $("reader-title");
  const readerMeta = $("reader-meta");
  const readerNote = $("reader-note");
  const readerBody = $("reader-body");
  const readerClose = $("reader-close");

  const docCache = new Map();
  let busy = false;
  let lastOpener = null;
  let readerRequest = 0;

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  // ---- status -----------------------------------------------------------------------------
  function setStatus(kind, text) {
    statusEl.dataset.state = kind;
    statusText.textContent = text;
  }

  async function checkReady() {
    try {
      const response = await fetch("/readyz", { headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => null);
      if (response.ok && body) {
        setStatus("ok", `${body.documents} article${body.documents === 1 ? "" : "s"} indexed`);
        return;
      }
      const detail = body && typeof body.detail === "string" ? body.detail : "";
      if (detail.startsWith("the index failed")) {
        setStatus("error", "The index failed to load");
        return;
      }
      setStatus("wait", "Loading the index…");
    } catch (err) {
      setStatus("error", "Server unreachable");
    }
    window.setTimeout(checkReady, 2000);
  }

  // ---- the conversation ---------------------------------------------------------------------
  function citeButton(n, citation, onOpen) {
    return el("button", {
      type: "button",
      class: "cite",
      "aria-label": `Source ${n}: ${citation ? citation.title : "unknown"}`,
      title: citation ? citation.title : "",
      "data-n": n,
      onclick: onOpen,
    }, `[${n}]`);
  }

  // The quote's text with the short answer marked inside it, when the answer's span lies in it
  // (offsets are code points on the server, UTF-16 units here).
  function withShort(quote, citation, span) {
    if (!span || !citation || span.n !== citation.n || span.start < citation.start || span.end > citation.end) {
      return [quote];
    }
    const a = toUnits(quote, span.start - citation.start);
    const b = toUnits(quote, span.end - citation.start);
    if (!(b > a)) return [quote];
    return [quote.slice(0, a), el("mark", { class: "short-span" }, quote.slice(a, b)), quote.slice(b)];
  }

  // An article's own "[1]" reaches the answer as "［1］" (service/citations.py), so every [n] of
  // an answer is a marker; same length, so quote offsets hold.
  function neutralize(text) {
    return text.replace(/\[(?=[^\]]*[0-9])([0-9\s,\-\u2013]+)\]/g, "\uff3b$1\uff3d");
  }

  // A piece of answer text; the part that is citation n's quote gets the short answer marked.
  function textWithShort(piece, citation, span) {
    const shown = citation ? neutralize(citation.quote) : "";
    const at = citation ? piece.lastIndexOf(shown) : -1;
    if (at < 0) return [piece];
    return [piece.slice(0, at), ...withShort(shown, citation, span), piece.slice(at + shown.length)];
  }

  // The answer text with every [n] that names a citation turned into a button that opens it.
  function answerText(text, byN, open, span) {
    const p = el("p", { class: "answer-text" });
    const re = /\[(\d+)\]/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) {
        const piece = text.slice(last, m.index);
        const cited = byN.get(Number(m[1]));
        p.append(...(span && cited && span.n === cited.n ? textWithShort(piece, cited, span) : [piece]));
      }
      const n = Number(m[1]);
      const citation = byN.get(n);
      if (citation) {
        const btn = citeButton(n, citation, () => open(citation, btn));
        p.append(btn);
      } else {
        p.append(m[0]);
      }
      last = re.lastIndex;
    }
    if (last < text.length) p.append(text.slice(last));
    return p;
  }

  // PDFs: the page the quote starts on
  function pageLabel(page) {
    return page ? ` · p. ${page}` : "";
  }

  function sourceItem(citation, open, span) {
    const btn = el("button", { type: "button", class: "source", "aria-label": `Open source ${citation.n}: ${citation.title}` },
      el("span", { class: "source-n", "aria-hidden": "true" }, String(citation.n)),
      el("span", { class: "source-body" },
        el("span", { class: "source-title" }, citation.title || citation.doc_id),
        el("span", { class: "source-date" }, formatDate(citation.date) + pageLabel(citation.page)),
        el("q", { class: "source-quote" }, ...withShort(citation.quote, citation, span))));
    btn.addEventListener("click", () => open(citation, btn));
    return el("li", {}, btn);
  }

  function passageItem(passage, open) {
    const btn = el("button", { type: "button", class: "source passage", "aria-label": `Open passage from ${passage.title}` },
      el("span", { class: "source-body" },
        el("span", { class: "source-title" }, passage.title || passage.doc_id),
        el("span", { class: "source-date" }, formatDate(passage.date) + pageLabel(passage.page)),
        el("span", { class: "source-quote plain" }, snippet(passage.text, 240))));
    btn.addEventListener("click", () => open(passage, btn));
    return el("li", {}, btn);
  }

  // Each sentence an LLM wrote, checked against what it cites: unsupported ones struck, with why.
  function claimList(claims) {
    const bad = claims.filter((c) => !c.supported).length;
    const list = el("ul", { class: "claims", "aria-label": "Checked claims" });
    for (const c of claims) {
      const text = c.supported ? el("span", {}, c.text) : el("del", {}, c.text);
      list.append(el("li", { class: c.supported ? "claim ok" : "claim unsupported" },
        el("span", { class: "claim-mark", "aria-hidden": "true" }, c.supported ? "✓" : "✗"), text,
        c.supported ? null : el("span", { class: "claim-reason" }, ` — not supported: ${c.reason}`)));
    }
    return el("details", { class: "claims-box", open: bad > 0 },
      el("summary", {}, bad ? `${bad} of ${claims.length} claims not supported by their sources` : `All ${claims.length} claims checked against their sources`),
      list);
  }

  function renderAnswer(data) {
    const abstained = Boolean(data.abstained);
    const card = el("section", { class: abstained ? "card answer abstained" : "card answer" });
    const byN = new Map((data.citations || []).map((c) => [c.n, c]));
    const openCitation = (c, btn) => openArticle({ docId: c.doc_id, start: c.start, end: c.end, quote: c.quote, kind: "quote" }, btn);
    const openPassage = (p, btn) => openArticle({ docId: p.doc_id, start: p.start, end: p.end, quote: p.text, kind: "passage" }, btn);

    const head = el("header", { class: "card-head" },
      el("span", { class: abstained ? "badge badge-abstain" : "badge badge-answer" },
        abstained ? "Not in the articles" : "Answer"),
      el("span", { class: "confidence", title: "Answer confidence" },
        `confidence ${Math.round((data.confidence || 0) * 100)}%`));
    card.append(head);

    if (!abstained && data.short_answer) {
      card.append(el("p", { class: "short-answer" }, el("span", { class: "short-label" }, "Short answer"), el("strong", {}, data.short_answer)));
    }
    const span = abstained ? null : data.short_answer_span;
    card.append(answerText(data.answer || "", byN, openCitation, span));

    if (!abstained && byN.size) {
      card.append(el("h3", { class: "list-title" }, "Sources"));
      const list = el("ol", { class: "sources" });
      for (const c of data.citations) list.append(sourceItem(c, openCitation, span));
      card.append(list);
    } else if (abstained && data.closest) {
      // say why instead of a bare "not in the articles" above the passage that looks like the answer
      card.append(el("p", { class: "abstain-why" }, data.abstain_reason || ""));
      card.append(el("h3", { class: "list-title" }, "Closest sentence"));
      card.append(el("ul", { class: "sources closest" }, sourceItem(data.closest, openCitation, null)));
    }
    if (abstained && (data.passages || []).length) {
      card.append(el("h3", { class: "list-title" }, "Closest passages"));
      const list = el("ul", { class: "sources" });
      for (const p of data.passages.slice(0, 3)) list.append(passageItem(p, openPassage));
      card.append(list);
    }
    if (!abstained && Array.isArray(data.claims) && data.claims.length) card.append(claimList(data.claims));
    if (data.fallback) card.append(el("p", { class: "timing" }, "The LLM was unavailable: answered by the embedded reader"));
    if (data.timings_ms) {
      card.append(el("p", { class: "timing" }, `Answered in ${Math.round(data.timings_ms.total)} ms`));
    }
    return card;
  }

  function renderError(message) {
    return el("section", { class: "card error", role: "alert" },
      el("header", { class: "card-head" }, el("span", { class: "badge badge-error" }, "Error")),
      el("p", {}, message));
  }

  function renderPending() {
    return el("section", { class: "card pending", "aria-live": "polite" },
      el("span", { class: "spinner", "aria-hidden": "true" }),
      el("span", {}, "Searching the articles…"));
  }

  function setBusy(value) {
    busy = value;
    sendBtn.disabled = value;
    form.setAttribute("aria-busy", value ? "true" : "false");
  }

  async function ask(question) {
    question = question.trim();
    if (!question || busy) return;
    const welcome = $("welcome");
    if (welcome) welcome.remove();
    const turn = el("article", { class: "turn" }, el("p", { class: "question" }, question));
    const pending = renderPending();
    turn.append(pending);
    conversation.append(turn);
    scrollToBottom();
    setBusy(true);
    try {
      const chat = window.citeqaStream;
      let live = null;
      const data = await chat.askStream({
        question,
        filters: (window.citeqaLibrary && window.citeqaLibrary.filters()) || undefined,
        history: chat.history.slice(),
      }, {
        passages: (p) => {
          if (p.standalone_question) turn.insertBefore(el("p", { class: "searched-as" }, `Searched as: ${p.standalone_question}`), pending);
          pending.lastChild.textContent = `Reading ${p.passages.length} passages…`;
        },
        token: (t) => { // a generative answerer writes: show the text as it comes, checked at the end
          if (!live) {
            live = el("p", { class: "answer-text live" });
            pending.replaceChildren(live);
          }
          live.textContent += t.text;
          scrollToBottom();
        },
      });
      chat.remember(data);
      pending.replaceWith(renderAnswer(data));
    } catch (err) {
      pending.replaceWith(renderError(err.message));
    } finally {
      setBusy(false);
      // show the new turn from its question down (long answers are read from the top)
      scroller.scrollTop = Math.max(0, turn.offsetTop - 12); // .scroller is the offsetParent
      input.focus({ preventScroll: true });
    }
  }

  // ---- the article reader -------------------------------------------------------------------
  async function fetchDocument(docId) {
    if (!docCache.has(docId)) {
      const promise = api(`/api/documents/${encodeURIComponent(docId)}`);
      docCache.set(docId, promise);
      promise.catch(() => docCache.delete(docId));
    }
    return docCache.get(docId);
  }

  function showReader() {
    if (window.citeqaLibrary) window.citeqaLibrary.hide(); // one side panel at a time
    reader.hidden = false;
    document.body.classList.add("reading");
  }

  function closeReader() {
    reader.hidden = true;
    document.body.classList.remove("reading");
    document.querySelectorAll(".is-open").forEach((b) => b.classList.remove("is-open"));
    if (lastOpener && document.contains(lastOpener)) lastOpener.focus();
  }

  async function openArticle(target, opener) {
    const request = ++readerRequest;
    lastOpener = opener || null;
    document.querySelectorAll(".is-open").forEach((b) => b.classList.remove("is-open"));
    if (opener) opener.classList.add("is-open");
    showReader();
    readerTitle.textContent = "Loading the article…";
    readerMeta.textContent = "";
    readerNote.hidden = true;
    readerBody.replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }));
    let doc;
    try {
      doc = await fetchDocument(target.docId);
    } catch (err) {
      if (request !== readerRequest) return;
      readerTitle.textContent = "Could not open the article";
      readerBody.replaceChildren(el("p", { class: "reader-error", role: "alert" }, err.message));
      return;
    }
    if (request !== readerRequest) return;

    readerTitle.textContent = doc.title || doc.doc_id;
    readerMeta.textContent = `${formatDate(doc.date)} · ${doc.doc_id}`;
    const text = doc.text || "";
    let start = toUnits(text, target.start);
    let end = toUnits(text, target.end);
    if (target.kind === "quote" && text.slice(start, end) !== target.quote) {
      // the article changed since the answer: fall back to finding the sentence itself
      const at = target.quote ? text.indexOf(target.quote) : -1;
      if (at >= 0) {
        start = at;
        end = at + target.quote.length;
      } else {
        start = end = -1;
        readerNote.textContent = "This article has changed since the answer was given; the quoted sentence is no longer in it.";
        readerNote.hidden = false;
      }
    }
    const mark = start >= 0 && end > start
      ? el("mark", { class: target.kind === "passage" ? "hl passage" : "hl", id: "reader-mark" }, text.slice(start, end))
      : null;
    if (mark) {
      readerBody.replaceChildren(text.slice(0, start), mark, text.slice(end));
    } else {
      readerBody.replaceChildren(text);
    }
    readerTitle.focus({ preventScroll: true });
    if (mark) {
      requestAnimationFrame(() => mark.scrollIntoView({ block: "center", behavior: "auto" }));
    } else {
      readerBody.scrollTop = 0;
    }
  }

  // ---- wiring --------------------------------------------------------------------------------
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    if (!question.trim()) {
      input.focus();
      return;
    }
    input.value = "";
    autosize();
    ask(question);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  }
  input.addEventListener("input", autosize);

  document.querySelectorAll(".example").forEach((btn) => {
    btn.addEventListener("click", () => ask(btn.textContent));
  });

  readerClose.addEventListener("click", closeReader);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !reader.hidden) closeReader();
  });

  // a new conversation: no history for follow-ups, an empty page
  const welcomeTemplate = $("welcome") ? $("welcome").cloneNode(true) : null;
  $("new-chat").addEventListener("click", () => {
    window.citeqaStream.clear();
    conversation.replaceChildren(...(welcomeTemplate ? [welcomeTemplate.cloneNode(true)] : []));
    conversation.querySelectorAll(".example").forEach((btn) => btn.addEventListener("click", () => ask(btn.textContent)));
    input.focus();
  });

  document.addEventListener("citeqa:documents-changed", () => {
    docCache.clear(); // an article may have been replaced or removed
    checkReady();
  });

  checkReady();
  input.focus();
})();
