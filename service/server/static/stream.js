// citeqa chat page: POST /api/ask as Server-Sent Events (passages, token…, final | error) read
// from fetch's body stream; EventSource cannot POST. Also the conversation's history.
"use strict";

(() => {
  async function askStream(body, on) {
    let response;
    try {
      response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ ...body, stream: true }),
      });
    } catch (err) {
      throw new Error("Cannot reach the server. Is citeqa still running?");
    }
    if (!response.ok || !(response.headers.get("content-type") || "").startsWith("text/event-stream")) {
      const data = await response.json().catch(() => null);
      const detail = data && data.detail;
      const error = new Error(typeof detail === "string" ? detail
        : Array.isArray(detail) ? detail.map((e) => e.msg).join("; ") : `The server answered HTTP ${response.status}.`);
      error.status = response.status;
      throw error;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let final = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        const payload = data ? JSON.parse(data) : null;
        if (name === "error") throw new Error((payload && payload.detail) || "The answer failed.");
        if (name === "final") final = payload;
        else if (on[name]) on[name](payload);
      }
      if (done) break;
    }
    if (!final) throw new Error("The answer stopped before it was complete.");
    return final;
  }

  // the turns sent with a follow-up (the server resolves "he", "it", "and Japan?" from them)
  const history = [];
  function remember(data) {
    if (!data || data.abstained) return;
    history.push({ question: data.standalone_question || data.question, answer: data.answer || "",
                   short_answer: data.short_answer || null });
    if (history.length > 10) history.shift();
  }

  window.citeqaStream = { askStream, history, remember, clear: () => history.splice(0) };
})();
