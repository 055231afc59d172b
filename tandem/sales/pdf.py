"""PDF documents for sales (quotes), written with fpdf2.

The font is DejaVu Sans, shipped in `tandem/sales/fonts/` (Bitstream Vera licence, see
LICENSE_DEJAVU there), so Latin, Cyrillic and Greek text renders. fpdf2 embeds only the glyphs a
document uses (a subset of the font) and writes a ToUnicode map, so readers can copy and search
the text.

Invariants:
- every document embeds one subset of one font, never the whole font file;
- user text is drawn with fpdf2's text operations, which escape it; nothing here writes
  content-stream syntax by hand.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"
FONT = "DejaVuSans"


def document(*, title: str) -> FPDF:
    """An empty A4 document measured in points, with the font set and automatic page breaks
    60 pt above the bottom edge."""
    pdf = FPDF(orientation="portrait", unit="pt", format="A4")
    pdf.set_title(title)
    pdf.set_creator("Tandem")
    pdf.set_producer("Tandem")
    pdf.set_margins(left=50, top=50, right=50)
    pdf.set_auto_page_break(auto=True, margin=60)
    pdf.add_font(FONT, "", str(FONT_PATH))
    pdf.set_font(FONT, size=10)
    return pdf
