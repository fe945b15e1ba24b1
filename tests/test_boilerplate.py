import pytest

from transforms.boilerplate import is_residue, remove_residue

RESIDUE = [
    "Sign up for our daily newsletter", "Subscribe to our newsletter for free updates",
    "Welcome to EconoTimes - sign up for daily updates", "Share this article", "Share on Facebook",
    "Copy link", "Click here to read more", "Related:", "Read more", "© 2025 Daily Ledger",
    "All rights reserved.", "This site uses cookies to improve your experience",
    "Accept all cookies", "12 comments", "Market Data", "DJIA 42,051.06 +0.65%",
    "Brent Crude 64.53 -2.4%", "EUR/USD 1.1187", "Menu", "Search", "Advertisement",
    "Follow us on Twitter", "Reporting by Jane Doe; Editing by Omar Haddad",
]
PROSE = [
    "The minister said she would sign up for the pension reform only if unions agreed.",
    "Share prices fell 3% on Tuesday after the company warned on profits.",
    "He told reporters: \"Click here and you will see the problem,\" pointing at the screen.",
    "Readers who subscribe to the theory that rates will fall may be disappointed, analysts said.",
    "Search and rescue teams worked through the night in the flooded valley.",
    "The menu at the summit dinner included lamb and baklava, officials said.",
    "Brent crude fell 2.4% to $64.53 a barrel as traders weighed the prospect of more supply.",
    "Related reporting by our correspondents in Kyiv suggested the talks had stalled for weeks.",
    "All 27 member states must agree before the sanctions package can take effect next month.",
]


@pytest.mark.parametrize("line", RESIDUE)
def test_residue_is_recognised(line):
    assert is_residue(line)


@pytest.mark.parametrize("line", PROSE)
def test_prose_is_kept(line):
    assert not is_residue(line)


def test_remove_residue_counts_and_never_empties():
    body = "Real paragraph about the budget vote in parliament today.\nShare this article\nMenu"
    cleaned, removed = remove_residue(body)
    assert cleaned == "Real paragraph about the budget vote in parliament today."
    assert removed == len(body) - len(cleaned)
    only_residue = "Share this article\nMenu"
    assert remove_residue(only_residue) == (only_residue, 0)
