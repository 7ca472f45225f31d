"""Write the sample documents about the (fictional) Acme Widget 3000 used by the demo.

    python scripts/make_sample_docs.py

The .md, .html, .txt and .csv files are written by hand and kept in git; this script writes the
binary ones: ``warranty.pdf`` (a minimal one-font PDF, built by hand, no extra dependency) and
``faq.docx`` (with python-docx). The PDF is byte-for-byte deterministic; the DOCX has fixed dates.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "examples" / "demo" / "docs"

WARRANTY_PAGES = [
    [
        "Acme Widget 3000 - Limited Warranty",
        "",
        "Warranty period",
        "The Acme Widget 3000 is covered by a limited warranty of three (3) years",
        "from the date of purchase. The warranty covers defects in materials and",
        "workmanship under normal use. Keep your receipt as proof of purchase.",
        "",
        "What is covered",
        "Repair or replacement of the widget, the power adapter and the docking",
        "base. Shipping to and from an Acme service centre is free of charge.",
    ],
    [
        "What is not covered",
        "Damage from water, drops, misuse, or repairs by anyone other than Acme.",
        "Normal wear of the rubber feet and the cleaning brush.",
        "",
        "Extended warranty",
        "Acme Care+ extends the warranty to five (5) years in total. It can be",
        "bought within 60 days of purchase for 39 EUR.",
        "",
        "How to claim",
        "Open a claim at support.acme.example with the serial number printed",
        "under the base (it starts with AW3K-). Claims are answered in 2 working days.",
    ],
]

FAQ = [
    (
        "Does the Acme Widget 3000 work without Wi-Fi?",
        "Yes. All core functions work offline; Wi-Fi is only used for firmware updates.",
    ),
    ("How long is the warranty?", "Three years from the date of purchase, or five years with Acme Care+."),
    ("Can I use the widget outdoors?", "Only under cover. The widget is rated IP44: splash-proof, not waterproof."),
    ("What does the blinking amber light mean?", "The filter needs cleaning. See the troubleshooting guide, step 2."),
]  # fmt: skip


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A valid PDF with one Helvetica text page per entry of ``pages`` (lines of ASCII text)."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for n, lines in enumerate(pages):
        content = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            content.append(f"({escaped}) Tj T*")
        content.append("ET")
        stream = "\n".join(content).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {page_ids[n] + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Acme Widget 3000 - Frequently asked questions"
    document.core_properties.created = datetime(2024, 1, 1)  # fixed, so re-runs differ as little as possible
    document.core_properties.modified = datetime(2024, 1, 1)
    document.add_heading("Acme Widget 3000 - Frequently asked questions", level=1)
    for question, answer in FAQ:
        document.add_heading(question, level=2)
        document.add_paragraph(answer)
    document.add_heading("Support hours", level=2)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Day", "Hours (CET)"
    for day, hours in (("Monday to Friday", "08:00-18:00"), ("Saturday", "09:00-13:00"), ("Sunday", "closed")):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = day, hours
    document.save(str(path))


def main() -> None:
    (HERE / "warranty.pdf").write_bytes(pdf_bytes(WARRANTY_PAGES))
    write_docx(HERE / "faq.docx")
    print(f"wrote {HERE / 'warranty.pdf'} and {HERE / 'faq.docx'}")


if __name__ == "__main__":
    main()
