"""Chart builders: plain data in, a Plotly figure (as a JSON-ready dict) out.

Figures are aggregated on the server (a point per snapshot or per bucket, never raw rows),
titled, with labelled axes and the palette below, which stays readable for colour-blind
readers; every chart is also shown as a table beside it.

The builders write Plotly's figure JSON as plain dicts: building `plotly.graph_objects`
figures validates every attribute and cost ~7 ms per chart on every page view. The tests
load each figure into `plotly.graph_objects.Figure` to prove it is valid.
"""

import datetime

WEEK = datetime.timedelta(days=7)
BLUE, ORANGE, GREY, RED = "#3056d3", "#e8871e", "#98a2b3", "#b42318"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def _layout(title: str, y_title: str, **extra) -> dict:
    return {
        "title": {"text": title, "font": {"size": 14}},
        "font": FONT,
        "margin": {"l": 56, "r": 16, "t": 40, "b": 40},
        "height": 280,
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "gridcolor": "#eef0f3"},
        "xaxis": {"gridcolor": "#eef0f3"},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "y": -0.2},
        **extra,
    }


def _figure(traces: list, layout: dict) -> dict:
    return {"data": traces, "layout": layout}


def _scatter(**trace) -> dict:
    return {"type": "scatter", "mode": "lines+markers", **trace}


def _bar(**trace) -> dict:
    return {"type": "bar", **trace}


def line_over_time(
    *, title: str, y_title: str, days: list, values: list, name: str, second=None
) -> dict:
    """A series over snapshot dates (MRR, days inactive); `second` = (name, values) adds a
    dotted one with square markers, so the two differ by more than colour."""
    traces = [
        _scatter(
            x=days,
            y=values,
            name=name,
            line={"color": BLUE, "width": 2},
            marker={"size": 5},
        )
    ]
    if second is not None:
        traces.append(
            _scatter(
                x=days,
                y=second[1],
                name=second[0],
                line={"color": ORANGE, "width": 2, "dash": "dot"},
                marker={"size": 5, "symbol": "square"},
            )
        )
    xaxis = {"type": "date", "tickformat": "%-d %b %Y", "gridcolor": "#eef0f3"}
    if len(days) == 1:  # one snapshot: show the days around it, not hours of that day
        day = datetime.date.fromisoformat(days[0])
        xaxis["range"] = [(day - WEEK).isoformat(), (day + WEEK).isoformat()]
    return _figure(traces, _layout(title, y_title, showlegend=second is not None, xaxis=xaxis))


def retention_by_quarter(*, quarters: list[str], retention: list, churn: list) -> dict:
    """Retention and churn side by side per quarter (percent)."""
    traces = [
        _bar(x=quarters, y=retention, name="Retention", marker={"color": BLUE}),
        _bar(
            x=quarters, y=churn, name="Churn", marker={"color": ORANGE, "pattern": {"shape": "/"}}
        ),
    ]
    return _figure(
        traces, _layout("Retention and churn by quarter", "% of starting clients", barmode="group")
    )


def risk_distribution(*, labels: list[str], counts: list[int]) -> dict:
    """How many active clients fall in each band of risk score."""
    colors = [GREY, BLUE, ORANGE, RED, RED][: len(labels)]
    trace = _bar(x=labels, y=counts, marker={"color": colors}, name="Clients")
    return _figure(
        [trace],
        _layout(
            "Risk score distribution",
            "Active clients",
            showlegend=False,
            xaxis={"title": {"text": "Risk score"}},
        ),
    )


def by_week(*, title: str, y_title: str, weeks: list[str], values: list, name: str) -> dict:
    """One bar per week (the week's own figure, such as its deadline miss rate)."""
    trace = _bar(x=weeks, y=values, name=name, marker={"color": BLUE})
    return _figure(
        [trace],
        _layout(title, y_title, showlegend=False, xaxis={"title": {"text": "Week starting"}}),
    )
