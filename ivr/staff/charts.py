"""Bar charts as inline SVG, drawn on the server: no script, no outside service.

Labels are escaped; colours come from presentation attributes (the console's
Content-Security-Policy forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#2f5d8a"
# Label size in SVG units. Charts are drawn about as wide as a phone
# (ivr/staff/stats.py), so this is close to the pixels shown there.
FONT = 12


def bar_chart(
    title: str, data: Sequence[tuple[str, int]], *, width: int = 640, label_every: int = 1
) -> Markup:
    """A vertical bar chart of (label, value) pairs with an accessible title and summary."""
    height, top, bottom, left = 220, 16, 48, 36
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = max((v for _, v in data), default=0) or 1
    slot = plot_w / max(len(data), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="#555"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="{FONT}" fill="#333">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="{FONT}" fill="#333">0</text>',
    ]
    for i, (label, value) in enumerate(data):
        h = plot_h * value / peak
        x = left + i * slot + slot * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{BAR}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if i % label_every == 0:
            cx = left + i * slot + slot / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="{FONT}" '
                f'fill="#333">{escape(label)}</text>'
            )
        if value and len(data) <= 12:
            cx = left + i * slot + slot / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" font-size="{FONT}" '
                f'fill="#111">{value}</text>'
            )
    parts.append("</svg>")
    # Every label and title above went through escape(); numbers are ints.
    return Markup("".join(parts))  # noqa: S704


def hbar_chart(title: str, data: Sequence[tuple[str, int]], *, width: int = 420) -> Markup:
    """A horizontal bar chart: one row per (label, value), the label on the
    left at full length. Long category names stay readable on a phone, where
    vertical bars would squeeze them under each other."""
    row, label_w, right = 28, 150, 40
    height = row * max(len(data), 1) + 8
    peak = max((v for _, v in data), default=0) or 1
    plot_w = width - label_w - right
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(data):
        y = 4 + i * row
        w = plot_w * value / peak
        parts.append(
            f'<text x="{label_w - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end" font-size="{FONT}" '
            f'fill="#333">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" fill="{BAR}">'
            f"<title>{escape(label)}: {value}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + row / 2 + 4:.1f}" font-size="{FONT}" '
            f'fill="#111">{value}</text>'
        )
    parts.append("</svg>")
    # Labels and the title went through escape(); values are ints.
    return Markup("".join(parts))  # noqa: S704
