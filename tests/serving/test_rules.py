"""rules.apply on plain rows (no database): ranking, ties, duplicates, boosts, blocks, pins."""

from goodsassoc.rules import apply


def test_best_first_with_ties_by_key_and_the_first_row_of_a_key_kept():
    candidates = [("b", 1.0, "x", {}), ("a", 1.0, "x", {}), ("c", 2.0, "x", {}), ("a", 9.0, "later", {})]
    assert [(c[0], c[1], c[2]) for c in apply(candidates, [])] == [("c", 2.0, "x"), ("a", 1.0, "x"),
                                                                  ("b", 1.0, "x")]


def test_boosts_multiply_blocks_and_exclusions_remove_pins_lead():
    candidates = [("a", 3.0, "x", {}), ("b", 2.0, "x", {}), ("c", 1.0, "x", {}), ("d", 0.5, "x", {})]
    rules = [("", "c", 4.0, "boost"), ("p", "c", 2.0, "boost"), ("p", "a", 1.0, "block"),
             ("", "d", 1.0, "pin"), ("other", "b", 1.0, "block")]
    ranked = apply(candidates, rules, anchors=["p"], exclude={"e"})
    assert [(c[0], c[1], c[2]) for c in ranked] == [("d", 0.5, "merchant_pick"), ("c", 8.0, "x"), ("b", 2.0, "x")]
    assert [c[0] for c in apply(candidates, rules, anchors=["p"], pins=False)] == ["c", "b", "d"]
