"""A warning that lists tens of thousands of keys is cut on screen at a key's end; the report keeps it whole."""

from snaprewrite import report


def test_a_long_list_is_cut_at_an_item_and_counts_the_rest():
    keys = [f"/registry/endpointslices/app-00/svc-{i:05d}-abcde" for i in range(5000)]
    message = f"{len(keys)} object(s) still hold old addresses: " + ", ".join(keys)
    shown = report.shown_warning(message)
    assert len(shown) < report.MAX_WARNING_SHOWN + 60
    head, _, tail = shown.partition(", ... (")
    listed = head.split(": ", 1)[1].split(", ")
    assert listed == keys[: len(listed)]  # whole keys only, none cut in the middle
    assert tail == f"{len(keys) - len(listed)} more listed in --report)"


def test_a_short_message_is_shown_whole():
    assert report.shown_warning("a, b, c") == "a, b, c"
    m = "x" * report.MAX_WARNING_SHOWN
    assert report.shown_warning(m) == m
    # no separator to cut at: cut at the limit, and still say that something was left out
    assert report.shown_warning("y" * 5000) == "y" * report.MAX_WARNING_SHOWN + \
        f"... ({5000 - report.MAX_WARNING_SHOWN} more characters in --report)"
