"""NHS Making Data Count icons as small SVG images (for table image columns), with their words.

The variation icon is a circle: grey for common cause, blue for special cause improving, orange for
special cause concerning, purple for special cause with no better direction, with H or L for a
high or low last point. The assurance icon: blue P (consistently passing), orange F (consistently
failing), grey ? (hit and miss). Colours are the Okabe-Ito ones the charts use and every icon
carries a letter as well, so colour is never the only cue.
"""

from __future__ import annotations

import base64

_VARIATION = {
    "common_cause": ("#7f7f7f", "~", "Common cause variation"),
    "special_cause_improving": ("#0072B2", "", "Special cause, improving"),
    "special_cause_concerning": ("#E69F00", "", "Special cause, concerning"),
    "special_cause_neither": ("#CC79A7", "", "Special cause, neither better nor worse"),
}
_ASSURANCE = {
    "consistently_passing": ("#0072B2", "P", "Will consistently meet the target"),
    "consistently_failing": ("#E69F00", "F", "Will consistently miss the target"),
    "hit_and_miss": ("#7f7f7f", "?", "Will hit and miss the target"),
}


def _svg(colour: str, letter: str) -> str:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28" viewBox="0 0 28 28">'
        f'<circle cx="14" cy="14" r="12" fill="white" stroke="{colour}" stroke-width="3"/>'
        f'<text x="14" y="19" font-family="Arial" font-size="14" font-weight="bold" '
        f'text-anchor="middle" fill="{colour}">{letter}</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def variation_icon(variation: str | None, direction: str | None) -> tuple[str | None, str]:
    """(image data URI or None, words) for an NHS variation and the last point's direction."""
    if variation not in _VARIATION:
        return None, "No SPC (fewer than 3 weeks with values)"
    colour, letter, words = _VARIATION[variation]
    if variation != "common_cause" and direction:
        letter = "H" if direction == "high" else "L"
        words += f" ({'high' if direction == 'high' else 'low'})"
    return _svg(colour, letter), words


def assurance_icon(assurance: str | None) -> tuple[str | None, str]:
    """(image data URI or None, words) for an NHS assurance."""
    if assurance not in _ASSURANCE:
        return None, "No assurance (no target or no limits)"
    colour, letter, words = _ASSURANCE[assurance]
    return _svg(colour, letter), words


__all__ = ["assurance_icon", "variation_icon"]
