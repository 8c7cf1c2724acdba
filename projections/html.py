"""The certificate as a page a buyer reads and prints (R11): static HTML with an inline SVG chart.

::

    CertificateView (+ IssuedCertificate when issued) ──render_certificate()──► HTML (UTF-8 text)
    CertificateView ──mileage_chart_svg()──► <svg>: km over time per counter segment; trend breaks in red,
                                              odometer replacement and 5-digit wrap as labelled lines

No script, no external resource: the page prints as it shows. Every value from the data is escaped.
Dates are Brussels calendar dates; values are shown as on the dashboard, with their unit.
"""

from __future__ import annotations

import json
from html import escape
from itertools import cycle, pairwise

from projections.certificates import IssuedCertificate
from projections.i18n import DEFAULT_LANGUAGE, MESSAGES, count, euros, text
from schemas.records import AnomalyKind, Unit
from schemas.views import CertificateAnomaly, CertificateReading, CertificateView
from streams.domain.calendar import brussels_day, date_of
from streams.domain.history import to_km
from streams.domain.state import MARKER_KINDS

_W, _H = 820, 340
_LEFT, _RIGHT, _TOP, _BOTTOM = 84, 22, 22, 56
_TYPO_KINDS = frozenset({AnomalyKind.SPIKE, AnomalyKind.DIP})

_CSS = """
body{font-family:system-ui,Arial,sans-serif;margin:24px auto;max-width:820px;color:#111;padding:0 12px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border:1px solid #bbb;padding:3px 6px;text-align:left} th{background:#eee}
table.facts th{width:36%;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
#readings td:first-child,#readings td.num{white-space:nowrap}
.mention{border:2px solid #b00;padding:6px 10px;margin:8px 0;font-weight:bold}
.summary{display:flex;gap:10px;margin:14px 0 4px} .summary div{flex:1;border:1px solid #bbb;padding:8px 10px}
.summary b{display:block;font-size:20px;margin-top:2px} .summary .box-bad{border:2px solid #b00}
.summary .box-ok{border:2px solid #060}
.ok{color:#060} .bad{color:#b00} .muted{color:#555;font-size:12px} tr.anomaly td{background:#fde8e8}
#mileage-chart{display:block;width:100%;height:auto;border:1px solid #ccc;background:#fff}
.qr{float:right;margin:0 0 8px 12px;text-align:center;width:120px} .qr svg{width:120px;height:120px}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;padding:0} .noprint{display:none}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 h2{break-after:avoid} tr,.summary,#mileage-chart,.mention{break-inside:avoid}}
"""

def _day(ms: int) -> str:
    return date_of(brussels_day(ms)).isoformat()


def _date(day: int | None, lang: str = DEFAULT_LANGUAGE) -> str:
    return date_of(day).isoformat() if day is not None else text(lang, "unknown")


def _text(value: object, lang: str = DEFAULT_LANGUAGE) -> str:
    if value is None:
        return text(lang, "unknown")
    if isinstance(value, bool):
        return text(lang, "yes" if value else "no")
    return escape(str(value))


def _words(code: str) -> str:
    """An enum value as words: ``CONNECTED_VEHICLE`` -> ``connected vehicle``."""
    return code.replace("_", " ").lower()


def _km(reading: CertificateReading) -> int:
    return to_km(reading.odometer_value, reading.unit)


def _shown(reading: CertificateReading, lang: str = DEFAULT_LANGUAGE) -> str:
    """The value as displayed on the dashboard, with its unit."""
    return f"{count(lang, reading.odometer_value)} {'km' if reading.unit is Unit.KM else text(lang, 'miles')}"


def _axis_step(top_km: int) -> int:
    """A round tick step (1, 2 or 5 times a power of ten km) giving at most eight steps up to ``top_km``."""
    step, factors = 1000, cycle((2, 2.5, 2))
    while top_km / step > 8:
        step = round(step * next(factors))
    return step


def mileage_chart_svg(view: CertificateView, lang: str = DEFAULT_LANGUAGE) -> str:
    """The mileage chart: one line per stretch of one counter (a replacement or a wrap starts a new one),
    x = date, y = displayed value in km, round ticks. Red points are readings blamed by an open trend
    break; a single wrong reading (a spike or a dip: a typo) is left off the line, labelled with its
    value, so that the line shows the history the other readings agree on."""
    readings = view.readings
    if not readings:
        return f'<p class="muted" id="mileage-chart">{text(lang, "no_chart")}</p>'
    wrapped = {a.blamed_event_id for a in view.open_anomalies if a.kind is AnomalyKind.COUNTER_WRAPPED}
    typos = {a.blamed_event_id for a in view.open_anomalies if a.kind in _TYPO_KINDS}
    t0, t1 = readings[0].observed_at, readings[-1].observed_at
    span_t = max(t1 - t0, 86_400_000)
    highest = max(max(_km(r) for r in readings), 1000)
    step = _axis_step(highest)
    top_km = (highest * 21 // 20 // step + 1) * step
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(ms: int) -> float:
        return round(_LEFT + plot_w * (ms - t0) / span_t, 1)

    def y(km: int) -> float:
        return round(_TOP + plot_h * (1 - km / top_km), 1)

    out = [
        f'<svg id="mileage-chart" xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{text(lang, "chart_label")}">',
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - _RIGHT}" y2="{_TOP + plot_h}" stroke="#333"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="#333"/>',
    ]
    for km in range(0, top_km + 1, step):
        out.append(f'<line x1="{_LEFT - 4}" y1="{y(km)}" x2="{_W - _RIGHT}" y2="{y(km)}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{_LEFT - 8}" y="{y(km) + 4}" font-size="12" text-anchor="end">'
                   f"{count(lang, km)} km</text>")
    first_year, last_year = date_of(brussels_day(t0)).year, date_of(brussels_day(t1)).year
    year_step = max(1, (last_year - first_year) // 8 + 1)
    for year in range(first_year + 1, last_year + 1, year_step):
        ms = (date_of(0).replace(year=year) - date_of(0)).days * 86_400_000
        base = _TOP + plot_h
        out.append(f'<line x1="{x(ms)}" y1="{base}" x2="{x(ms)}" y2="{base + 5}" stroke="#333"/>')
        out.append(f'<text x="{x(ms)}" y="{base + 19}" font-size="12" text-anchor="middle">{year}</text>')
    stretches: list[list[CertificateReading]] = [[readings[0]]]
    for before, after in pairwise(readings):
        restart = after.odometer_replaced or after.event_id in wrapped
        if restart:
            label = text(lang, "odometer_replaced" if after.odometer_replaced else "counter_wrapped")
            css = "replacement" if after.odometer_replaced else "wrap"
            # A replacement is dated: the reading flagged ``odometer_replaced`` is the first on the new
            # counter, taken when it was fitted. A wrap happened somewhere between the two readings.
            if after.odometer_replaced:
                xm = x(after.observed_at)
            else:
                xm = round((x(before.observed_at) + x(after.observed_at)) / 2, 1)
            out.append(
                f'<g class="{css}"><line x1="{xm}" y1="{_TOP}" x2="{xm}" y2="{_TOP + plot_h}" '
                f'stroke="#1f5fbf" stroke-dasharray="5,4"/>'
                f'<text x="{xm + 3}" y="{_TOP + 12}" font-size="12" fill="#1f5fbf">'
                f"{label}</text></g>"
            )
            stretches.append([after])
        else:
            stretches[-1].append(after)
    for stretch in stretches:
        kept = [r for r in stretch if r.event_id not in typos] or stretch
        points = " ".join(f"{x(r.observed_at)},{y(_km(r))}" for r in kept)
        out.append(f'<polyline fill="none" stroke="#333" stroke-width="1.5" points="{points}"/>')
    for r in readings:
        colour = "#c00" if r.in_open_anomaly else "#1a7f37"
        radius = 5.5 if r.in_open_anomaly else 3.5
        css = "reading anomaly" if r.in_open_anomaly else "reading"
        out.append(
            f'<circle class="{css}" cx="{x(r.observed_at)}" cy="{y(_km(r))}" r="{radius}" fill="{colour}">'
            f"<title>{_day(r.observed_at)}: {_shown(r, lang)}</title></circle>"
        )
        if r.in_open_anomaly:
            above = y(_km(r)) > _TOP + plot_h - 24
            ly = y(_km(r)) + (-10 if above else 18)
            anchor = "end" if x(r.observed_at) > _LEFT + plot_w * 0.8 else "middle"
            out.append(
                f'<text class="anomaly-label" x="{x(r.observed_at)}" y="{ly}" font-size="12" fill="#c00" '
                f'font-weight="bold" text-anchor="{anchor}">{_shown(r, lang)} ({_day(r.observed_at)})</text>'
            )
    legend_y = _H - 12
    items = [(text(lang, "legend_reading"), "dot"), (text(lang, "legend_anomaly"), "red"),
             (text(lang, "legend_restart"), "line")]  # fmt: skip
    legend = ['<g class="legend" font-size="12" fill="#333">']
    left = _LEFT + 6
    for label, mark in items:  # laid out by the labels' lengths (about 7 px a character at 12 px)
        if mark == "line":
            legend.append(f'<line x1="{left}" y1="{legend_y - 9}" x2="{left}" y2="{legend_y + 2}" '
                          'stroke="#1f5fbf" stroke-dasharray="3,2"/>')  # fmt: skip
        else:
            fill, radius = ("#c00", 5) if mark == "red" else ("#1a7f37", 3.5)
            legend.append(f'<circle cx="{left}" cy="{legend_y - 4}" r="{radius}" fill="{fill}"/>')
        legend.append(f'<text x="{left + 8}" y="{legend_y}">{label}</text>')
        left += 8 + 7 * len(label) + 18
    out.append("".join(legend) + "</g></svg>")
    return "\n".join(out)


def _mentions(view: CertificateView, lang: str = DEFAULT_LANGUAGE) -> list[str]:
    out = []
    if view.imported_used:
        country = f" ({escape(view.import_country)})" if view.import_country else ""
        out.append(text(lang, "imported", country=country))
    if view.counter_digits == 5:
        out.append(text(lang, "five_digits"))
    for r in view.readings:
        if r.odometer_replaced:
            out.append(text(lang, "replaced_on", date=_day(r.observed_at)))
    if view.accident_inspection_required:
        out.append(text(lang, "accident_required"))
    return out


def _facts(view: CertificateView, lang: str = DEFAULT_LANGUAGE) -> list[tuple[str, str]]:
    co2 = text(lang, "unknown") if view.co2_g_km is None else f"{view.co2_g_km} g/km"
    if view.co2_g_km is not None and view.co2_test_procedure is not None:
        co2 += f" ({view.co2_test_procedure.value})"
    rows = [
        (text(lang, "vin"), _text(view.vin, lang)),
        (text(lang, "make_model"), f"{_text(view.make, lang)} {_text(view.model, lang)}"),
        (text(lang, "first_registration"), _date(view.first_registration_date, lang)),
    ]
    if view.first_registration_be_date not in (None, view.first_registration_date):
        rows.append((text(lang, "first_registration_be"), _date(view.first_registration_be_date, lang)))
    rows += [
        (text(lang, "euro_norm"), _text(view.euro_norm, lang)),
        (text(lang, "co2"), co2),
        (text(lang, "fuel"), _text(view.fuel_type, lang)),
        (text(lang, "electric_motor"), _text(view.electric_motor, lang)),
    ]
    if view.electric_motor:
        range_km = text(lang, "unknown") if view.electric_range_km is None else f"{view.electric_range_km} km"
        rows.append((text(lang, "electric_range"), range_km))
    rows.append((text(lang, "accident_inspection"), _text(view.accident_inspection_required, lang)))
    return rows


def _summary(view: CertificateView, lang: str = DEFAULT_LANGUAGE) -> str:
    """The buyer's first look: the last recorded mileage, the judgment, what is open."""
    last = view.readings[-1] if view.readings else None
    breaks = [a for a in view.open_anomalies if a.kind not in MARKER_KINDS]
    good = view.judgment.value == "LOGICAL"
    boxes = [
        ("", text(lang, "last_recorded"), f"{_shown(last, lang)}" if last else text(lang, "none"),
         text(lang, "on_date", date=_day(last.observed_at)) if last else text(lang, "no_reading_yet")),
        ("ok" if good else "bad", text(lang, "judgment_of_history"), text(lang, view.judgment.value),
         text(lang, "readings_count", n=count(lang, len(view.readings)))),
        ("bad" if breaks else "ok", text(lang, "open_anomalies"), str(len(breaks)),
         text(lang, "see_below") if breaks else text(lang, "none")),
        ("bad" if view.open_recalls else "ok", text(lang, "recalls_not_done"), str(len(view.open_recalls)),
         ""),
    ]  # fmt: skip
    cells = "".join(
        f'<div class="box-{css or "plain"}">{title}<b class="{css}">{value}</b>'
        f'<span class="muted">{note}</span></div>'
        for css, title, value, note in boxes
    )
    return f'<div class="summary" id="summary">{cells}</div>'


def _anomaly_item(
    anomaly: CertificateAnomaly, readings: dict[str, CertificateReading], lang: str = DEFAULT_LANGUAGE
) -> str:
    """One open anomaly in words: what, when, the value, the likely cause and value of a typo."""
    kind = anomaly.kind.value
    what = text(lang, kind) if kind in MESSAGES else _words(kind).capitalize()
    if anomaly.counter_restarted:
        what = text(lang, "counter_restarted")
    when = _day(anomaly.observed_at) if anomaly.observed_at is not None else text(lang, "unknown_date")
    blamed = readings.get(anomaly.blamed_event_id or "")
    out = f"{what} ({kind}), {text(lang, 'reading_of', date=when)}"
    if blamed is not None:
        out += f": {_shown(blamed, lang)}"
    if anomaly.suspected_cause is not None:
        cause = anomaly.suspected_cause.value
        out += f"; {text(lang, 'likely', cause=text(lang, cause))}" if cause in MESSAGES else ""
        out += f" ({text(lang, 'suspected_cause', code=cause)})"
    if anomaly.suggested_value is not None:
        out += f"; {text(lang, 'probably_value', value=count(lang, anomaly.suggested_value))}"
    return f"<li>{out}.</li>"


def render_certificate(
    view: CertificateView, issued: IssuedCertificate | None, drawn_up_day: int, lang: str = DEFAULT_LANGUAGE,
    verify_url: str | None = None, qr_svg: str | None = None,
) -> str:  # fmt: skip
    """The full page in ``lang`` (``projections.i18n.LANGUAGES``). ``issued`` adds the number, fee, validity
    and issuer; ``drawn_up_day`` is the date shown as "drawn up" (the issue date when issued);
    ``verify_url`` is where anyone checks it (``/verify/<number>`` when not given) and ``qr_svg`` a QR code
    of it (an ``<svg>`` element, trusted: made by the caller, not from the data)."""
    judgment_css = {"LOGICAL": "ok"}.get(view.judgment.value, "bad")
    reasons = ", ".join(escape(r) for r in view.judgment_reasons) or text(lang, "none")
    drawn_up = _date(issued.issue_date if issued else drawn_up_day, lang)
    title = text(lang, "certificate")
    parts = [
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title} {escape(view.vin)}</title><style>{_CSS}</style></head><body>",
    ]
    if issued is not None and qr_svg is not None:
        parts.append(f'<div class="qr" id="qr">{qr_svg}<span class="muted">{text(lang, "scan_to_verify")}'
                     "</span></div>")  # fmt: skip
    parts += [
        f"<h1>{title} · {_text(view.make, lang)} {_text(view.model, lang)}</h1>",
        f'<p class="muted">{text(lang, "drawn_up", date=drawn_up)} · {text(lang, "vin")} {escape(view.vin)}',
    ]
    if issued is not None:
        price = (text(lang, "price", price=euros(lang, issued.fee_cents)) if issued.fee_cents
                 else text(lang, "free"))  # fmt: skip
        url = escape(verify_url or f"/verify/{issued.number}")
        parts.append(
            f' · {text(lang, "number")} <strong id="certificate-number">{escape(issued.number)}</strong> · '
            f'<span id="validity">{text(lang, "valid_until", date=_date(issued.valid_until, lang))}</span> · '
            f'<span id="fee">{price}</span>'
        )
        if issued.issuer:
            issuer = text(lang, "issued_by", issuer=escape(issued.issuer))
            parts.append(f' · <span id="issuer">{issuer}</span>')
        parts.append(f'<br>{text(lang, "verify_online")} <span id="verify-url">{url}</span>.</p>')
    else:
        parts.append(f" · {text(lang, 'preview')}</p>")
    parts.append(_summary(view, lang))
    parts += [f'<p class="mention">{m}</p>' for m in _mentions(view, lang)]
    parts.append(f'<h2>{text(lang, "vehicle")}</h2><table class="facts">')
    parts += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in _facts(view, lang)]
    parts.append(f"</table><h2>{text(lang, 'recalls_not_done')}</h2>")
    if view.open_recalls:
        parts.append("<ul>")
        parts += [
            f"<li>{escape(r.manufacturer)} {escape(r.campaign_id)}: {escape(r.description)}</li>"
            for r in view.open_recalls
        ]
        parts.append("</ul>")
    else:
        parts.append(f"<p>{text(lang, 'none_sentence')}</p>")
    parts.append(
        f'<h2>{text(lang, "mileage_history")}</h2><p>{text(lang, "judgment")}: '
        f'<strong class="{judgment_css}" id="judgment">{text(lang, view.judgment.value)}</strong> · '
        f'{text(lang, "reasons")}: {reasons}</p>'
    )
    parts.append(mileage_chart_svg(view, lang))
    breaks = [a for a in view.open_anomalies if a.kind not in MARKER_KINDS]
    if breaks:
        by_id = {r.event_id: r for r in view.readings}
        parts.append(f'<h2>{text(lang, "open_anomalies")}</h2><ul id="anomalies">')
        parts += [_anomaly_item(a, by_id, lang) for a in breaks]
        parts.append("</ul>")
    columns = ("date", "odometer", "source", "counter", "work", "note")
    headings = "".join(f"<th>{text(lang, key)}</th>" for key in columns)
    parts.append(f'<h2>{text(lang, "recorded_readings")}</h2><table id="readings"><tr>{headings}</tr>')
    for r in view.readings:
        note = text(lang, "odometer_replaced") if r.odometer_replaced else ""
        note = text(lang, "in_open_anomaly") if r.in_open_anomaly else note
        source = f"{text(lang, r.origin.value)} ({text(lang, r.provider_kind.value)})"
        parts.append(
            f'<tr class="{"row anomaly" if r.in_open_anomaly else "row"}"><td>{_day(r.observed_at)}</td>'
            f'<td class="num">{_shown(r, lang)}</td><td>{source}</td>'
            f'<td>{r.counter_segment + 1}</td><td class="work">{escape(r.work_description or "")}</td>'
            f"<td>{note}</td></tr>"
        )
    parts.append(f'</table><p class="muted">{text(lang, "footer")}</p></body></html>')
    return "\n".join(parts)


def render_verification(
    cert: IssuedCertificate, authentic: bool, valid_today: bool, lang: str = DEFAULT_LANGUAGE
) -> str:
    """The public page of ``GET /verify/{number}`` (R16: anyone can check a certificate), in ``lang``: whether
    its signature holds under the key its ``key_id`` names, whether it is still valid, and the facts it
    certifies (a reader compares them with the paper in hand). Only what the certificate itself shows."""
    content = json.loads(cert.content_json)
    readings = content.get("readings") or []
    latest = readings[-1] if readings else None
    verdict = (
        f'<p class="ok" id="verdict">{text(lang, "authentic", key_id=escape(cert.key_id))}</p>'
        if authentic
        else f'<p class="bad" id="verdict">{text(lang, "not_authentic")}</p>'
    )
    validity = text(lang, "valid_today" if valid_today else "no_longer_valid")
    judgment = str(content.get("judgment", ""))
    if latest is None:
        shown_latest = text(lang, "none")
    else:
        unit = "km" if str(latest.get("unit", "KM")) == "KM" else text(lang, "miles")
        day = escape(str(latest.get("observed_at", ""))[:10])
        shown_latest = f"{count(lang, int(latest['odometer_value']))} {unit} ({day})"
    facts = [
        (text(lang, "number_label"), escape(cert.number)),
        (text(lang, "vin"), escape(cert.vin)),
        (text(lang, "vehicle"), f"{_text(content.get('make'), lang)} {_text(content.get('model'), lang)}"),
        (text(lang, "issued_on"), _date(cert.issue_date, lang)),
        (text(lang, "valid_until_label"), f"{_date(cert.valid_until, lang)} ({validity})"),
        (text(lang, "judgment"), text(lang, judgment) if judgment in MESSAGES else escape(judgment)),
        (text(lang, "latest_reading"), shown_latest),
        (text(lang, "readings_recorded"), str(len(readings))),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    title = text(lang, "certificate")
    return (
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(lang, 'verify_title')} {escape(cert.number)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{title} {escape(cert.number)}</h1>{verdict}"
        f'<table class="facts" id="facts">{rows}</table>'
        f'<p class="muted">{text(lang, "public_keys")}</p></body></html>'
    )
