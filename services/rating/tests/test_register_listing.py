"""GET /register as database work (domain/listing.py), pure: what a listing
asks the database for, and the counts from its grouping."""

from __future__ import annotations

from dsr_rating.domain.listing import Filters, after_cursor, counts_of, skip_for


def test_the_filters_are_the_database_query():
    assert Filters().query() == {"status": "on_register"}
    assert Filters(status="removed", rating="red", cohort="cyp", in_hospital=False).query() == {
        "status": "removed",
        "rating": "red",
        "cohort": "cyp",
        "in_hospital": False,
    }
    assert Filters(register_ids=("B", "A", "B")).query()["_id"] == {"$in": ["A", "B"]}


def test_needing_completion_is_an_unknown_age_group_and_narrows_a_cohort():
    assert Filters(needs_completion=True).query()["cohort"] == "unknown"
    assert Filters(needs_completion=False).query()["cohort"] == {"$ne": "unknown"}
    assert Filters(needs_completion=False, cohort="cyp").query()["cohort"] == "cyp"
    assert Filters(needs_completion=True, cohort="unknown").query()["cohort"] == "unknown"
    # A question that contradicts itself finds nobody, rather than ignoring half of it.
    assert Filters(needs_completion=True, cohort="adult").query()["cohort"] == {"$in": []}
    assert Filters(needs_completion=False, cohort="unknown").query()["cohort"] == {"$in": []}


def test_pages_by_number_and_after_an_identifier():
    assert [skip_for(page, 50) for page in (1, 2, 3)] == [0, 50, 100]
    assert skip_for(0, 50) == 0
    query = Filters(rating="amber").query()
    assert after_cursor(query, None) is query
    assert after_cursor(query, "QJ2-0001-0001-X") == {
        "status": "on_register",
        "rating": "amber",
        "_id": {"$gt": "QJ2-0001-0001-X"},
    }
    # Both a list of people and a cursor: both hold.
    with_ids = Filters(register_ids=("A", "C")).query()
    assert after_cursor(with_ids, "A") == {"$and": [with_ids, {"_id": {"$gt": "A"}}]}


def test_the_counts_come_from_the_grouping():
    groups = [
        {"_id": {"rating": "amber", "cohort": "adult"}, "n": 3},
        {"_id": {"rating": "amber", "cohort": "cyp"}, "n": 2},
        {"_id": {"rating": "red", "cohort": "unknown"}, "n": 1},
        {"_id": {"rating": None, "cohort": "adult"}, "n": 1},  # not rated (yet): counted, not by rating
    ]
    counts = counts_of(groups)
    assert counts.total == 7
    assert counts.by_rating == {"amber": 5, "red": 1}
    assert counts.by_cohort == {"adult": 4, "cyp": 2, "unknown": 1}
    assert counts_of([]).total == 0 and counts_of([]).by_rating == {}
