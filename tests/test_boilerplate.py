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


# --------------------------------------------------------------------------- more residue, both ways

from transforms.boilerplate import (Block, is_paywall_prompt, select_blocks,  # noqa: E402
                                    trim_edges)

MORE_RESIDUE = [
    "Story continues below advertisement", "Subscribe", "Sign up now", "Image source, Getty Images",
    "Image caption, A trader on the floor", "(Image credit: TechPulse)", "Anzeige", "Lesen Sie auch:",
    "Have a news tip? Email us at tips@metrowire.example or call 555-0142.",
    "The day's top stories from the harbour towns, free in your inbox every weekday at 6 a.m.",
    "The Morning Ledger newsletter brings you the top stories of the day before the markets open. Sign up here.",
    "TechPulse is supported by its audience. When you purchase through links on our site, we may earn an "
    "affiliate commission. Here's how it works.",
    "Thank you for reading! Please purchase a subscription to continue reading. If you have a subscription, "
    "please log in.",
    "Subscribe to continue reading.", "Support local journalism", "Leave a Reply",
    "The Signal is a reader-supported publication. To receive new posts and support my work, consider "
    "becoming a free or paid subscriber.",
    "Alle Rechte vorbehalten", "Newsletter: Jeden Morgen die wichtigsten Nachrichten – jetzt abonnieren.",
]
MORE_PROSE = [
    "Be wary of messages sent to your inbox that claim to come from your bank, police warned.",
    "Subscribers to the water utility will see higher bills from July, the council said on Tuesday.",
    "Image quality is excellent in daylight, though the camera struggles at night.",
    "The story continues to unfold as investigators examine the wreckage near the runway.",
    "Newsletters were sent to all parents on Friday explaining the new timetable.",
    "The commission said it would publish its findings on the merger in September.",
    "Support for the measure has grown since the spring, according to the latest poll.",
    "Anzeigen gegen den Betreiber wurden bereits im Januar erstattet, sagte die Polizei.",
    "Already a member of the committee, she was elected its chair on Monday.",
    "Thanks for reading the minutes, the chair told the meeting before the vote.",
]


@pytest.mark.parametrize("line", MORE_RESIDUE)
def test_more_residue_is_recognised(line):
    assert is_residue(line)


@pytest.mark.parametrize("line", MORE_PROSE)
def test_more_prose_is_kept(line):
    assert not is_residue(line)


def test_paywall_prompts():
    assert is_paywall_prompt("Subscribe to continue reading.")
    assert is_paywall_prompt("This article is only available to subscribers.")
    assert not is_paywall_prompt("Subscribers to the paper can read it online, the editor said.")


# --------------------------------------------------------------------------- block filter

P1 = ("The harbour board voted on Tuesday to extend the ferry pier by forty metres, a project debated "
      "for nearly a decade.")
P2 = ("Board chair Lena Okafor said the extension would let two vessels dock at once during the busy "
      "summer season.")
P3 = ("The fishing co-operative said construction would disturb spawning grounds and squeeze smaller "
      "boats in winter.")


def p(text, link_chars=0, kind="p"):
    return Block(kind=kind, text=text, link_chars=link_chars)


def kept(blocks):
    return [b.text for b, k in zip(blocks, select_blocks(blocks)) if k]


def test_link_dense_blocks_go_prose_with_links_stays():
    related = "Related: Ferry fares to rise in June"
    more = "MORE FROM METRO WIRE Fare cap delayed Council clash over beds"
    linked_prose = P2  # a paragraph with a linked name is prose
    blocks = [p(P1), p(related, link_chars=len("Ferry fares to rise in June".replace(" ", ""))),
              p(linked_prose, link_chars=len("LenaOkafor")),
              p(more, link_chars=len("Fare cap delayed Council clash over beds".replace(" ", "")), kind="list"), p(P3)]
    assert kept(blocks) == [P1, P2, P3]


def test_lead_in_bylines_and_datelines_go_the_standfirst_stays():
    """The standfirst is the article's first paragraph (real-page truth includes it)."""
    blocks = [p("By Jane Doe and Omar Haddad"), p("Updated 2 hours ago"), p("May 14, 2025 1:05 PM UTC"),
              p("4 min read"), p("Three things happened at once."), p(P1), p(P2)]
    assert kept(blocks) == ["Three things happened at once.", P1, P2]
    # The same kinds of line after the lede are left alone (they may be the story).
    late = [p(P1), p("By midnight the vote was over."), p(P2)]
    assert kept(late) == [P1, "By midnight the vote was over.", P2]


def test_closing_bios_contacts_and_credits_go():
    blocks = [p(P1), p(P2), p(P3),
              p("Jane Doe covers transport and the harbour for the Gazette. Reach her at jdoe@gazette.example."),
              p("Devin Cho is a senior writer at TechPulse covering phones, wearables and security."),
              p("Our Standards: The Capital Ledger Trust Principles.")]
    assert kept(blocks) == [P1, P2, P3]
    # A closing paragraph *about* a reporter is prose.
    ending = ("The award goes to Maria Lopez, who was a reporter at the paper for thirty years before she "
              "became its first female editor in 1998, the jury said.")
    assert kept([p(P1), p(P2), p(ending)]) == [P1, P2, ending]


def test_subheadings_go_and_nothing_is_ever_emptied():
    """Section headings are navigation, not running text (as in real-page truth); a long
    "heading" (a lede set in an <h2>) is text."""
    lede = ("The city will close the old bridge for two years from June while engineers replace its "
            "deck, officials said on Monday.")
    blocks = [p(lede, kind="head"), p(P1), p("Get the Morning Brief", kind="head"),
              p("The day's top stories, free in your inbox every weekday at 6 a.m."), p("Sign up now"),
              p("A wall built in 1962", kind="head"), p(P2)]
    assert kept(blocks) == [lede, P1, P2]
    only_chrome = [p("Share this article"), p("Related:"), p("Menu")]
    assert select_blocks(only_chrome) == [True, True, True]


def test_trim_edges_removes_navigation_and_closing_links_but_keeps_lists():
    text = "\n".join(["Home", "News", "Summer ferry schedule adds late sailing", "By Gwen Tully",
                      "Monday, May 12, 2025", P1, P2, "Printer-friendly version", "|",
                      "E-mail this story to a friend"])
    cleaned, removed = trim_edges(text, titles=["Summer ferry schedule adds late sailing"])
    assert cleaned == "\n".join([P1, P2]) and removed == len(text) - len(cleaned)
    with_list = "\n".join([P1, "What to do:", "- Drink water", "- Stay inside", P2, "- Check on neighbours"])
    assert trim_edges(with_list)[0] == with_list
    assert trim_edges("Short line\nAnother")[0] == "Short line\nAnother"  # no prose: untouched
