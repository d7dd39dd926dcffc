"""The users table's model and proxy: columns, search, the state filter, sorting and updates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import Qt

from leafdesk.core.model import (
    Actor,
    ConnectionState,
    CredentialSummary,
    LeafUser,
    StateView,
    UserRow,
)
from leafdesk.ui.users_model import (
    ROW_ROLE,
    Column,
    UsersFilterProxy,
    UsersModel,
    has_credential,
)

CHECKED = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def make_row(number: int, state: ConnectionState = ConnectionState.CONNECTED, *,
             name: str | None = None, raw: str | None = None) -> UserRow:
    status = {ConnectionState.CONNECTED: "OK",
              ConnectionState.NEEDS_REAUTHORIZATION: "UNAUTHENTICATED"}.get(state, raw)
    has = state not in (ConnectionState.NOT_CONNECTED, ConnectionState.WAITING_FOR_GROWER)
    user = LeafUser(
        id=f"00000000-0000-4000-8000-{number:012d}",
        name=name or f"Farm {number:03d}",
        email=f"farm{number}@example.org",
        external_id=f"CRM-{number}",
        panorama=CredentialSummary(id=f"cred-{number}", status=status) if has else None,
    )
    view = StateView(state=state, raw_status=status if has else None, actor=Actor.NOBODY,
                     summary="summary", next_step="next",
                     checked_at=CHECKED + timedelta(minutes=number))
    return UserRow(user=user, state=view, organization_code=f"ORG-{number}" if has else None,
                   client_environment="STAGE" if number % 2 else "PRODUCTION",
                   connected_since=CHECKED - timedelta(days=number) if has else None)


@pytest.fixture
def models(qapp):
    model = UsersModel()
    proxy = UsersFilterProxy(model)
    rows = [make_row(1), make_row(2, ConnectionState.NEEDS_REAUTHORIZATION),
            make_row(3, ConnectionState.NOT_CONNECTED, name="Zebra Ranch"),
            make_row(4, ConnectionState.UNKNOWN, raw="PAUSED")]
    model.set_rows(rows)
    return model, proxy


def shown_names(proxy) -> list[str]:
    return [proxy.index(row, Column.NAME).data() for row in range(proxy.rowCount())]


def test_every_column_has_a_title(models):
    model, _ = models
    titles = [model.headerData(column, Qt.Orientation.Horizontal) for column in Column]
    assert titles == ["Name", "E-mail", "External id", "State", "Who must act",
                      "Organization code", "Environment", "Connected since", "Last checked",
                      "Leaf user id", "Next step"]


def test_state_column_words_icon_colour(models):
    model, _ = models
    index = model.index(3, Column.STATE)
    assert index.data() == "Unknown: PAUSED"
    assert not index.data(Qt.ItemDataRole.DecorationRole).isNull()
    assert index.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert "summary" in index.data(Qt.ItemDataRole.ToolTipRole)


def test_search_matches_any_column(models):
    _, proxy = models
    proxy.set_search("crm-2")
    assert shown_names(proxy) == ["Farm 002"]

    proxy.set_search("ORG-4")  # organization code, case-insensitive
    assert shown_names(proxy) == ["Farm 004"]

    proxy.set_search("needs re-auth")  # the state's words
    assert shown_names(proxy) == ["Farm 002"]

    proxy.set_search("000000000003")  # the hidden Leaf user id column
    assert shown_names(proxy) == ["Zebra Ranch"]

    proxy.set_search("")
    assert proxy.rowCount() == 4


def test_state_filter_combines_with_search(models):
    _, proxy = models
    proxy.set_state_filter(ConnectionState.CONNECTED)
    assert shown_names(proxy) == ["Farm 001"]

    proxy.set_search("zebra")
    assert shown_names(proxy) == []

    proxy.set_state_filter(None)
    assert shown_names(proxy) == ["Zebra Ranch"]


@pytest.mark.parametrize("column", list(Column))
def test_sorts_on_every_column(models, column):
    model, proxy = models
    proxy.sort(column, Qt.SortOrder.AscendingOrder)
    ascending = [proxy.index(row, 0).data(ROW_ROLE).user.id for row in range(4)]
    proxy.sort(column, Qt.SortOrder.DescendingOrder)
    descending = [proxy.index(row, 0).data(ROW_ROLE).user.id for row in range(4)]

    assert sorted(ascending) == sorted(descending)
    if column in (Column.NAME, Column.LAST_CHECKED, Column.USER_ID, Column.EMAIL):
        # Columns with four distinct values reverse exactly.
        assert descending == list(reversed(ascending))


def test_sort_by_name_orders_rows(models):
    _, proxy = models
    proxy.sort(Column.NAME, Qt.SortOrder.DescendingOrder)
    assert shown_names(proxy) == ["Zebra Ranch", "Farm 004", "Farm 002", "Farm 001"]


def test_sort_by_state_puts_attention_first(models):
    _, proxy = models
    proxy.sort(Column.STATE, Qt.SortOrder.AscendingOrder)
    states = [proxy.index(row, 0).data(ROW_ROLE).state.state for row in range(4)]
    assert states[0] is ConnectionState.NEEDS_REAUTHORIZATION
    assert states[-1] is ConnectionState.CONNECTED


def test_update_rows_replaces_and_appends(models):
    model, proxy = models
    proxy.set_search("farm 001")
    healed = make_row(2, ConnectionState.CONNECTED)
    model.update_rows([healed, make_row(7, name="Farm 001 North")])

    assert model.rowCount() == 5
    assert model.row_for(healed.user.id).state.state is ConnectionState.CONNECTED
    assert model.counts()[ConnectionState.CONNECTED] == 3
    # The search is re-applied to changed and new rows.
    assert shown_names(proxy) == ["Farm 001", "Farm 001 North"]


def test_search_after_set_rows(models):
    model, proxy = models
    proxy.set_search("farm 01")
    model.set_rows([make_row(number) for number in range(1, 30)])
    assert shown_names(proxy) == [f"Farm {n:03d}" for n in range(10, 20)]


def test_has_credential_from_state_alone():
    row = make_row(5, ConnectionState.NEEDS_REAUTHORIZATION)
    without_summary = UserRow(
        user=LeafUser(id=row.user.id, name=row.user.name, panorama=None), state=row.state)
    assert has_credential(without_summary)
    assert not has_credential(make_row(6, ConnectionState.NOT_CONNECTED))


def test_next_step_column(models):
    model, proxy = models
    assert model.headerData(Column.NEXT_STEP, Qt.Orientation.Horizontal) == "Next step"
    row = model.row_at(0)
    index = model.index(0, Column.NEXT_STEP)
    assert index.data() == row.state.next_step
    assert index.data(Qt.ItemDataRole.ToolTipRole) == row.state.next_step
