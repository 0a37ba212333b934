// citeqa chat page: the article library. Upload (file picker or drag and drop, several files, each
// with its progress and result), the list of indexed articles with delete, and the filter (dates,
// chosen articles) that app.js sends with every question. Text from the server is inserted as
// text only. The API key, when the server wants one, is asked for once and kept for the session.
"use strict";

(() => {
  const { $, el, describeError: detailOf } = window.citeqaDom;
  const panel = $("library");
  const openBtn = $("library-open");
  const closeBtn = $("library-close");
  const dropZone = $("drop-zone");
  const fileInput = $("file-input");
  const uploads = $("upload-list");
  const keyForm = $("key-form");
  const keyInput = $("api-key");
  const keyNote = $("key-note");
  const docList = $("doc-list");
  const dateFrom = $("date-from");
  const dateTo = $("date-to");
  const clearBtn = $("filter-clear");
  const filterNote = $("filter-note");
  const KEY = "citeqa-api-key";
  const ACCEPT = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"];

  let documents = [];
  const chosen = new Set(); // doc ids the questions are limited to (empty: all)
  const waitingForKey = []; // uploads refused with 401, sent again once a key is given

  function authHeaders() {
    const key = sessionStorage.getItem(KEY);
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  function changed() {
    document.dispatchEvent(new CustomEvent("citeqa:documents-changed"));
    refresh();
  }

  function askForKey(message) {
    keyNote.textContent = message;
    keyForm.hidden = false;
    keyInput.focus();
  }

  // ---- upload -------------------------------------------------------------------------------
  // XMLHttpRequest, not fetch: fetch reports no upload progress.
  function send(file, row) {
    const bar = row.querySelector("progress");
    const state = row.querySelector(".upload-state");
    bar.hidden = false;
    bar.value = 0;
    state.textContent = "Uploading…";
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/documents");
      xhr.setRequestHeader("Accept", "application/json");
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) bar.value = e.loaded / e.total;
      };
      xhr.upload.onload = () => {
        bar.removeAttribute("value"); // indeterminate while the server reads and embeds it
        state.textContent = "Indexing…";
      };
      xhr.onerror = () => finish(0, null);
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        finish(xhr.status, body);
      };
      function finish(status, body) {
        bar.hidden = true;
        row.dataset.status = String(status);
        if (status === 200 || status === 201) {
          row.classList.add("ok");
          state.textContent = `${status === 200 ? "Replaced" : "Added"} as “${body.title || body.doc_id}” · ${body.chunks} chunks`;
          changed();
        } else if (status === 401) {
          row.classList.add("error");
          state.textContent = "Needs the API key";
          waitingForKey.push([file, row]);
          askForKey("This server needs its API key to add or remove articles.");
        } else {
          row.classList.add("error");
          state.textContent = status ? detailOf(body, status) : "Cannot reach the server.";
          if (status === 403 && /API key/.test(state.textContent)) askForKey("That API key is not valid. Try again.");
        }
        resolve();
      }
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  }

  let queue = Promise.resolve();
  function upload(files) {
    for (const file of files) {
      const row = el("li", { class: "upload" },
        el("span", { class: "upload-name" }, file.name),
        el("progress", { max: "1", hidden: true, "aria-label": `Upload of ${file.name}` }),
        el("span", { class: "upload-state" }, "Waiting…"));
      uploads.append(row);
      const ext = file.name.includes(".") ? file.name.slice(file.name.lastIndexOf(".")).toLowerCase() : "";
      if (!ACCEPT.includes(ext)) {
        row.classList.add("error");
        row.querySelector(".upload-state").textContent = `Not a supported file (${ACCEPT.join(", ")})`;
        continue;
      }
      queue = queue.then(() => send(file, row)); // one at a time: the server writes one at a time
    }
  }

  fileInput.addEventListener("change", () => {
    upload([...fileInput.files]);
    fileInput.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    dropZone.addEventListener(name, (e) => {
      e.preventDefault();
      dropZone.classList.add("dragging");
    });
  }
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
  dropZone.addEventListener("drop", (e) => {
    e.preventDefault();
    dropZone.classList.remove("dragging");
    upload([...(e.dataTransfer ? e.dataTransfer.files : [])]);
  });

  keyForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const key = keyInput.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    keyInput.value = "";
    keyForm.hidden = true;
    for (const [file, row] of waitingForKey.splice(0)) {
      row.classList.remove("error");
      queue = queue.then(() => send(file, row));
    }
  });

  // ---- the list ------------------------------------------------------------------------------
  async function remove(doc, button) {
    if (!window.confirm(`Delete “${doc.title || doc.doc_id}” from the index?`)) return;
    button.disabled = true;
    const r = await fetch(`/api/documents/${encodeURIComponent(doc.doc_id)}`,
      { method: "DELETE", headers: { Accept: "application/json", ...authHeaders() } }).catch(() => null);
    button.disabled = false;
    if (r && r.ok) {
      chosen.delete(doc.doc_id);
      changed();
      return;
    }
    const body = r ? await r.json().catch(() => null) : null;
    if (r && r.status === 401) askForKey("This server needs its API key to add or remove articles.");
    else window.alert(r ? detailOf(body, r.status) : "Cannot reach the server.");
  }

  function render() {
    docList.replaceChildren(...documents.map((doc) => {
      const box = el("input", { type: "checkbox", class: "doc-choose", value: doc.doc_id,
        "aria-label": `Ask only about the chosen articles: ${doc.title || doc.doc_id}` });
      box.checked = chosen.has(doc.doc_id);
      box.addEventListener("change", () => {
        if (box.checked) chosen.add(doc.doc_id); else chosen.delete(doc.doc_id);
        note();
      });
      const del = el("button", { type: "button", class: "doc-delete", "aria-label": `Delete ${doc.title || doc.doc_id}` },
        "Delete");
      del.addEventListener("click", () => remove(doc, del));
      return el("li", { class: "doc", "data-doc-id": doc.doc_id },
        el("label", { class: "doc-main" }, box,
          el("span", { class: "doc-text" },
            el("span", { class: "doc-title" }, doc.title || doc.doc_id),
            el("span", { class: "doc-meta" }, `${doc.date || "Undated"} · ${doc.chunks} chunks`))),
        del);
    }));
    note();
  }

  async function refresh() {
    const r = await fetch("/api/documents", { headers: { Accept: "application/json" } }).catch(() => null);
    if (!r || !r.ok) return;
    documents = await r.json();
    const ids = new Set(documents.map((d) => d.doc_id));
    for (const id of [...chosen]) if (!ids.has(id)) chosen.delete(id);
    render();
  }

  // ---- the filter ----------------------------------------------------------------------------
  function filters() {
    const f = {};
    if (chosen.size) f.doc_ids = [...chosen];
    if (dateFrom.value) f.date_from = dateFrom.value;
    if (dateTo.value) f.date_to = dateTo.value;
    return Object.keys(f).length ? f : null;
  }

  function note() {
    const parts = [];
    if (chosen.size) parts.push(`${chosen.size} chosen article${chosen.size === 1 ? "" : "s"}`);
    if (dateFrom.value || dateTo.value) parts.push(`dated ${dateFrom.value || "…"} to ${dateTo.value || "…"}`);
    filterNote.hidden = !parts.length;
    filterNote.textContent = parts.length ? `Asking only: ${parts.join(", ")}` : "";
  }

  dateFrom.addEventListener("change", note);
  dateTo.addEventListener("change", note);
  clearBtn.addEventListener("click", () => {
    chosen.clear();
    dateFrom.value = "";
    dateTo.value = "";
    render();
  });

  // ---- the panel -----------------------------------------------------------------------------
  function show() {
    const readerClose = $("reader-close");
    if (!$("reader").hidden && readerClose) readerClose.click(); // one side panel at a time
    panel.hidden = false;
    document.body.classList.add("reading");
    openBtn.setAttribute("aria-expanded", "true");
    refresh();
    $("library-title").focus({ preventScroll: true });
  }

  function hide() {
    panel.hidden = true;
    openBtn.setAttribute("aria-expanded", "false");
    if ($("reader").hidden) document.body.classList.remove("reading");
  }

  openBtn.addEventListener("click", () => (panel.hidden ? show() : hide()));
  closeBtn.addEventListener("click", hide);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !panel.hidden) hide();
  });

  window.citeqaLibrary = { filters, hide };
})();
