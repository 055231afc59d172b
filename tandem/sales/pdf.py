"""A small PDF writer for quotes: A4 pages, one embedded TrueType font, text and rules.

Any Unicode text the font covers renders (Latin, Cyrillic, Greek…): the font is embedded as a
CIDFontType2 with Identity-H encoding, so text is written as glyph ids, and a ToUnicode map lets
readers copy and search the text. The font is DejaVu Sans, shipped in `tandem/sales/fonts/`
(Bitstream Vera licence, see LICENSE_DEJAVU there).

Invariants:
- the output is a complete PDF 1.4 file with a correct cross-reference table;
- a character the font lacks is drawn as glyph 0 (the font's "missing" box), never dropped
  silently from the ToUnicode map;
- no user text reaches the content stream unescaped: text is only ever written as hex glyph ids.
"""

from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"
A4 = (595.28, 841.89)


class TrueTypeFont:
    """The few tables of a TrueType file a PDF needs: metrics, widths and the Unicode cmap."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        num_tables = struct.unpack_from(">H", data, 4)[0]
        self.tables: dict[str, tuple[int, int]] = {}
        for i in range(num_tables):
            tag, _checksum, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
            self.tables[tag.decode("latin-1")] = (offset, length)
        head = self.tables["head"][0]
        self.units_per_em = struct.unpack_from(">H", data, head + 18)[0]
        self.bbox = struct.unpack_from(">hhhh", data, head + 36)
        hhea = self.tables["hhea"][0]
        self.ascent, self.descent = struct.unpack_from(">hh", data, hhea + 4)
        self.num_hmetrics = struct.unpack_from(">H", data, hhea + 34)[0]
        self.cap_height = self.ascent
        if "OS/2" in self.tables:
            os2, length = self.tables["OS/2"]
            version = struct.unpack_from(">H", data, os2)[0]
            if version >= 2 and length >= 90:
                self.cap_height = struct.unpack_from(">h", data, os2 + 88)[0]
        self._cmap = self._unicode_cmap()

    def _unicode_cmap(self) -> int:
        offset = self.tables["cmap"][0]
        count = struct.unpack_from(">H", self.data, offset + 2)[0]
        for i in range(count):
            platform, encoding, sub = struct.unpack_from(">HHI", self.data, offset + 4 + 8 * i)
            if platform == 3 and encoding == 1:
                fmt = struct.unpack_from(">H", self.data, offset + sub)[0]
                if fmt == 4:
                    return offset + sub
        raise ValueError("the font has no Unicode BMP cmap (format 4)")

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one font object lives for the process
    def glyph(self, char: str) -> int:
        code = ord(char)
        if code > 0xFFFF:
            return 0
        d, base = self.data, self._cmap
        seg_count = struct.unpack_from(">H", d, base + 6)[0] // 2
        ends = base + 14
        starts = ends + 2 * seg_count + 2
        deltas = starts + 2 * seg_count
        range_offsets = deltas + 2 * seg_count
        for i in range(seg_count):
            end = struct.unpack_from(">H", d, ends + 2 * i)[0]
            if code > end:
                continue
            start = struct.unpack_from(">H", d, starts + 2 * i)[0]
            if code < start:
                return 0
            delta = struct.unpack_from(">h", d, deltas + 2 * i)[0]
            ro_pos = range_offsets + 2 * i
            range_offset = struct.unpack_from(">H", d, ro_pos)[0]
            if range_offset == 0:
                return (code + delta) & 0xFFFF
            gid = struct.unpack_from(">H", d, ro_pos + range_offset + 2 * (code - start))[0]
            return (gid + delta) & 0xFFFF if gid else 0
        return 0

    def advance(self, gid: int) -> int:
        """The glyph's advance width in 1/1000 of the font size."""
        hmtx = self.tables["hmtx"][0]
        index = min(gid, self.num_hmetrics - 1)
        units = struct.unpack_from(">H", self.data, hmtx + 4 * index)[0]
        return round(units * 1000 / self.units_per_em)

    def scale(self, value: int) -> int:
        return round(value * 1000 / self.units_per_em)


@functools.cache
def default_font() -> TrueTypeFont:
    return TrueTypeFont(FONT_PATH.read_bytes())


@dataclass
class PdfDocument:
    """Pages of text and rules. Coordinates are points from the bottom-left corner."""

    font: TrueTypeFont = field(default_factory=default_font)
    title: str = ""
    pages: list[list[str]] = field(default_factory=list)
    used: dict[int, str] = field(default_factory=dict)

    def add_page(self) -> None:
        self.pages.append([])

    def text_width(self, text: str, size: float) -> float:
        return sum(self.font.advance(self.font.glyph(c)) for c in text) * size / 1000

    def text(self, x: float, y: float, text: str, size: float = 10, align: str = "left") -> None:
        if not self.pages:
            self.add_page()
        if align == "right":
            x -= self.text_width(text, size)
        gids = []
        for char in text:
            gid = self.font.glyph(char)
            gids.append(gid)
            if gid:
                self.used.setdefault(gid, char)
        hexed = "".join(f"{g:04X}" for g in gids)
        self.pages[-1].append(f"BT /F1 {size:.2f} Tf {x:.2f} {y:.2f} Td <{hexed}> Tj ET")

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        if not self.pages:
            self.add_page()
        self.pages[-1].append(f"{width:.2f} w {x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S")

    def fit(self, text: str, size: float, width: float) -> list[str]:
        """`text` broken into lines no wider than `width` (at spaces, else mid-word)."""
        lines: list[str] = []
        for paragraph in text.splitlines() or [""]:
            current = ""
            for word in paragraph.split(" "):
                candidate = f"{current} {word}" if current else word
                if self.text_width(candidate, size) <= width:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                current = word
                while self.text_width(current, size) > width and len(current) > 1:
                    cut = len(current)
                    while cut > 1 and self.text_width(current[:cut], size) > width:
                        cut -= 1
                    lines.append(current[:cut])
                    current = current[cut:]
            lines.append(current)
        return lines

    # --- serialisation --------------------------------------------------------------------

    def _to_unicode(self) -> bytes:
        entries = sorted(self.used.items())
        chunks = []
        for i in range(0, len(entries), 100):
            block = entries[i : i + 100]
            rows = "\n".join(
                f"<{gid:04X}> <{''.join(f'{u:04X}' for u in _utf16(ch))}>" for gid, ch in block
            )
            chunks.append(f"{len(block)} beginbfchar\n{rows}\nendbfchar")
        body = "\n".join(chunks)
        return (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{body}\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
        ).encode("ascii")

    def _widths(self) -> str:
        return " ".join(f"{gid} [{self.font.advance(gid)}]" for gid in sorted(self.used))

    def render(self) -> bytes:
        if not self.pages:
            self.add_page()
        font = self.font
        objects: list[bytes] = []

        def add(body: bytes) -> int:
            objects.append(body)
            return len(objects)

        def stream(data: bytes, extra: str = "") -> bytes:
            packed = zlib.compress(data, 6)
            head = f"<< /Length {len(packed)} /Filter /FlateDecode {extra}>>\nstream\n"
            return head.encode("ascii") + packed + b"\nendstream"

        catalog = add(b"")  # filled in below, once the pages object number is known
        pages_obj = add(b"")
        font_file = add(stream(font.data, f"/Length1 {len(font.data)} "))
        x0, y0, x1, y1 = (font.scale(v) for v in font.bbox)
        descriptor = add(
            (
                f"<< /Type /FontDescriptor /FontName /DejaVuSans /Flags 32 "
                f"/FontBBox [{x0} {y0} {x1} {y1}] /ItalicAngle 0 "
                f"/Ascent {font.scale(font.ascent)} /Descent {font.scale(font.descent)} "
                f"/CapHeight {font.scale(font.cap_height)} /StemV 80 "
                f"/FontFile2 {font_file} 0 R >>"
            ).encode("ascii")
        )
        cid_font = add(
            (
                "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /DejaVuSans "
                "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                f"/FontDescriptor {descriptor} 0 R /DW 1000 /W [{self._widths()}] "
                "/CIDToGIDMap /Identity >>"
            ).encode("ascii")
        )
        to_unicode = add(stream(self._to_unicode()))
        type0 = add(
            (
                "<< /Type /Font /Subtype /Type0 /BaseFont /DejaVuSans /Encoding /Identity-H "
                f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
            ).encode("ascii")
        )
        page_ids = []
        width, height = A4
        for page in self.pages:
            content = add(stream("\n".join(page).encode("ascii")))
            page_ids.append(
                add(
                    (
                        f"<< /Type /Page /Parent {pages_obj} 0 R "
                        f"/MediaBox [0 0 {width} {height}] "
                        f"/Resources << /Font << /F1 {type0} 0 R >> >> "
                        f"/Contents {content} 0 R >>"
                    ).encode("ascii")
                )
            )
        kids = " ".join(f"{p} 0 R" for p in page_ids)
        objects[pages_obj - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode(
            "ascii"
        )
        objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode("ascii")
        info = add(f"<< /Title <{_utf16_hex(self.title)}> /Producer (Tandem) >>".encode("ascii"))

        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
        for offset in offsets:
            out += f"{offset:010d} 00000 n \n".encode("ascii")
        out += (
            f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n"
        ).encode("ascii")
        return bytes(out)


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _utf16_hex(text: str) -> str:
    return "FEFF" + text.encode("utf-16-be").hex().upper()
