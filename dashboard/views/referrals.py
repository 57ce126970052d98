"""Referrals: Referral loop closure: referrals scheduled, seen and reported back to the referrer."""

from __future__ import annotations

from carepulse.dashboard import sections

sections.family_page(
    "page:referrals",
    "Referrals",
    "Referral loop closure: referrals scheduled, seen and reported back to the referrer.",
    families=("referrals",),
    key="referrals",
)
