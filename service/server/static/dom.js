// citeqa chat page: small DOM and fetch helpers shared by the page's scripts. Text from the server
// is always inserted as text (textContent, append(string)), never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child != null && child !== false) node.append(child); // strings become text nodes
    }
    return node;
  }

  function describeError(body, status) {
    const detail = body && body.detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map((e) => {
        const loc = Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body").join(".") : "";
        return (loc ? loc + ": " : "") + (e.msg || "invalid");
      }).join("; ");
    }
    return `The server answered HTTP ${status}.`;
  }

  async function api(path, options) {
    let response;
    try {
      response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
    } catch (err) {
      throw new Error("Cannot reach the server. Is citeqa still running?");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (!response.ok) {
      const error = new Error(describeError(body, response.status));
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // Offsets from the server count Unicode code points (Python); JavaScript strings index UTF-16
  // code units. Convert so astral characters (emoji, rare CJK) before a quote don't shift it.
  function toUnits(text, codePoints) {
    if (!/[\uD800-\uDFFF]/.test(text)) return Math.min(codePoints, text.length);
    let unit = 0;
    for (let cp = 0; cp < codePoints && unit < text.length; cp += 1) {
      const c = text.charCodeAt(unit);
      unit += c >= 0xd800 && c <= 0xdbff && unit + 1 < text.length ? 2 : 1;
    }
    return unit;
  }

  function formatDate(date) {
    if (!date) return "Undated";
    const d = new Date(date + "T00:00:00Z");
    if (Number.isNaN(d.getTime())) return date;
    return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
  }

  function snippet(text, max) {
    const clean = text.replace(/\s+/g, " ").trim();
    return clean.length > max ? clean.slice(0, max - 1).trimEnd() + "…" : clean;
  }

  window.citeqaDom = { $, el, api, describeError, toUnits, formatDate, snippet };
})();
