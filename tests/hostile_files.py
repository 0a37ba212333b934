"""Small hostile PDF and DOCX files, made in memory for the tests (nothing stored in the repo)."""
from __future__ import annotations

import io
import zipfile
import zlib

FONT = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
CATALOG = "<< /Type /Catalog /Pages 2 0 R >>"
PAGES = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
HELLO = b"BT /F1 12 Tf 72 720 Td (Hello world.) Tj ET"


def page(contents: str = "4 0 R") -> str:
    return (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {contents} "
            "/Resources << /Font << /F1 5 0 R >> >> >>")


def stream(body: bytes, extra: str = "", length: str | None = None) -> bytes:
    return f"<< /Length {length or len(body)}{extra} >>\nstream\n".encode() + body + b"\nendstream"


def pdf(objs: dict[int, str | bytes]) -> bytes:
    """A PDF with these objects, a correct xref table and trailer."""
    out, offs = b"%PDF-1.4\n", {}
    for n in sorted(objs):
        offs[n] = len(out)
        body = objs[n] if isinstance(objs[n], bytes) else objs[n].encode()
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    size = max(objs) + 1
    xref = len(out)
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offs.get(n, 0):010d} 00000 n \n".encode() for n in range(1, size))
    return out + f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()


def good_pdf() -> bytes:
    return pdf({1: CATALOG, 2: PAGES, 3: page(), 4: stream(HELLO), 5: FONT})


# the issue's probes: each made pdfminer loop forever (or recurse) before the sandbox
PDF_PROBES = {
    "page refers to itself": pdf({1: CATALOG, 2: PAGES, 3: "3 0 R"}),
    "pages cycle 2<->3": pdf({1: CATALOG, 2: PAGES, 3: "<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>"}),
    "contents refers to itself": pdf({1: CATALOG, 2: PAGES, 3: page("6 0 R"), 5: FONT, 6: "6 0 R"}),
    "length refers to itself": pdf({1: CATALOG, 2: PAGES, 3: page(), 4: stream(HELLO, length="4 0 R"), 5: FONT}),
}


def slow_pdf(words: int = 600) -> bytes:
    """~5 KB: one page of `words` scattered words; pdfminer's layout analysis of it is superlinear
    (600 words: ~30 s on 2 cores), no loop for a guard to see: only the time limit ends it."""
    ops = "".join(f"BT /F1 6 Tf {(i * 37) % 540 + 36} {(i * 11) % 720 + 36} Td (w{i % 97}x) Tj ET\n"
                  for i in range(words)).encode()
    return pdf({1: CATALOG, 2: PAGES, 3: page(), 4: stream(zlib.compress(ops, 9), " /Filter /FlateDecode"), 5: FONT})


def inflating_pdf(mb: int) -> bytes:
    """A page whose deflated content stream inflates to `mb` MB of spaces (a PDF decompression bomb)."""
    z = zlib.compressobj(9)
    block = b" " * (1 << 20)
    body = b"".join(z.compress(block) for _ in range(mb)) + z.flush()
    return pdf({1: CATALOG, 2: PAGES, 3: page(), 4: stream(body, " /Filter /FlateDecode"), 5: FONT})


def good_docx(*paras: str) -> bytes:
    import docx

    d = docx.Document()
    for p in paras or ("Seoul and Tokyo agreed to share data.",):
        d.add_paragraph(p)
    b = io.BytesIO()
    d.save(b)
    return b.getvalue()


def docx_with(document_xml, declared_size: int | None = None) -> bytes:
    """A real .docx whose word/document.xml is replaced: bytes, or an iterable of byte pieces
    (streamed into the zip, never whole in memory). `declared_size`: the size the zip directory
    claims for it (a lying directory)."""
    src = zipfile.ZipFile(io.BytesIO(good_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                z.writestr(info.filename, src.read(info))
                continue
            pieces = [document_xml] if isinstance(document_xml, bytes) else document_xml
            target = zipfile.ZipInfo("word/document.xml")
            target.compress_type = zipfile.ZIP_DEFLATED
            with z.open(target, "w") as f:
                for piece in pieces:
                    f.write(piece)
    data = out.getvalue()
    if declared_size is not None:
        data = _lie_about_size(data, "word/document.xml", declared_size)
    return data


def _lie_about_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size of `name` in its local header and its central directory entry."""
    import struct

    buf = bytearray(data)
    raw = name.encode()
    for sig, off_size in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = 0
        while (i := buf.find(sig, i)) >= 0:
            name_at = i + (30 if sig == b"PK\x03\x04" else 46)
            if buf[name_at:name_at + len(raw)] == raw:
                struct.pack_into("<I", buf, i + off_size, size)
            i += 4
    return bytes(buf)


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_bomb(mb: int = 100) -> bytes:
    """~100-300 KB: a document.xml of `mb` MB of paragraphs (deflates ~500x)."""
    para = b"<w:p><w:r><w:t>" + b"a" * 200 + b"</w:t></w:r></w:p>"
    per_mb = (1 << 20) // len(para)
    pieces = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W}><w:body>'.encode()]
    pieces += [para * per_mb for _ in range(mb)]
    pieces += [b"</w:body></w:document>"]
    return docx_with(iter(pieces))


def bodiless_docx() -> bytes:
    return docx_with(b"<x/>")
