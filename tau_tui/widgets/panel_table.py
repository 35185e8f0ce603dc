"""``PanelTable``: one operator panel as a DataTable updated in place.

Rows are keyed by the panel's stable row keys (``job:ID``), so a refresh changes only the
cells that changed, adds and removes rows by key, and the selection stays on the same
object however the rows around it move. A filter hides rows whose cells do not contain
its text. Cell text is untrusted (titles, namespaces): it is shown as plain ``Text``,
never parsed as markup, and control characters were already replaced (``plain.panels``).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tau_tui.plain.panels import Panel, PanelRow


class PanelTable(DataTable[Text]):
    """A DataTable showing one ``Panel``."""

    DEFAULT_CSS = "PanelTable { height: auto; max-height: 12; }"

    def __init__(self, name: str, **kwargs: object) -> None:
        super().__init__(id=f"panel-{name}", cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.panel_name = name
        self.rows_by_key: dict[str, PanelRow] = {}
        self.changed_keys: set[str] = set()  # changed by the last apply (for highlighting)
        self.marked: dict[str, int] = {}  # highlighted rows: the apply that marked each
        self._applies = 0

    @property
    def selected(self) -> PanelRow | None:
        """The row under the cursor."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self.rows_by_key.get(str(key))

    HIGHLIGHT = "bold reverse"

    def apply(self, panel: Panel, filter_text: str = "", *, highlight: bool = False) -> None:
        """Show ``panel``'s rows (those matching ``filter_text``), changing only what moved;
        with ``highlight``, changed rows are marked until ``unhighlight`` (a row left
        unchanged by later applies stays marked until then)."""
        self._applies += 1
        if not self.columns:
            for index, name in enumerate(panel.columns):
                self.add_column(name, key=f"c{index}")
        wanted = [row for row in panel.rows if _matches(row, filter_text)]
        keep = self.selected.key if self.selected else None
        wanted_keys = {row.key for row in wanted}
        self.changed_keys = set()
        for key in [k for k in self.rows_by_key if k not in wanted_keys]:
            self.remove_row(key)
            del self.rows_by_key[key]
            self.marked.pop(key, None)
        for row in wanted:
            old = self.rows_by_key.get(row.key)
            style = self.HIGHLIGHT if highlight else ""
            if old is None:
                self.add_row(*(Text(cell, style=style) for cell in row.cells), key=row.key)
                self.changed_keys.add(row.key)
            elif old.cells != row.cells:
                for index, (before, after) in enumerate(zip(old.cells, row.cells, strict=True)):
                    if before != after or highlight:
                        self.update_cell(row.key, f"c{index}", Text(after, style=style))
                self.changed_keys.add(row.key)
            self.rows_by_key[row.key] = row
        if highlight:
            self.marked.update(dict.fromkeys(self.changed_keys, self._applies))
        if keep is not None and keep in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(keep), scroll=False)

    @property
    def applies(self) -> int:
        """How many times ``apply`` ran (``unhighlight`` takes one of these)."""
        return self._applies

    def unhighlight(self, marked_by: int | None = None) -> None:
        """Show plainly again the rows marked by apply number ``marked_by`` (None: every
        marked row); a row marked again by a later apply keeps its mark."""
        for key, when in list(self.marked.items()):
            if marked_by is not None and when != marked_by:
                continue
            del self.marked[key]
            row = self.rows_by_key.get(key)
            if row is None:
                continue
            for index, cell in enumerate(row.cells):
                self.update_cell(key, f"c{index}", Text(cell))


def _matches(row: PanelRow, text: str) -> bool:
    if not text:
        return True
    needle = text.casefold()
    return any(needle in cell.casefold() for cell in row.cells)
