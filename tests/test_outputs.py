"""Figure files written by plmscope.outputs: SVG element ids that do not depend on the process."""

from __future__ import annotations

from plmscope.outputs import stable_svg_ids

SVG = ('<defs><clipPath id="{clip}"/><pattern id="h99e9128e7d"/></defs>'
       '<path clip-path="url(#{clip})" style="fill: url(#h99e9128e7d)"/>'
       '<use xlink:href="#m0123456789"/><path id="m0123456789"/><text>p1911cd58e3 stays</text>')  # fmt: skip


def test_stable_svg_ids_renumber_definitions_and_references_in_document_order():
    svg = SVG.format(clip="p1911cd58e3")
    other = SVG.format(clip="p3792ee53d7")  # the same figure drawn in another process
    out = stable_svg_ids(svg)
    assert out == stable_svg_ids(other) and svg != other
    assert 'id="p-1"' in out and "url(#p-1)" in out and "url(#h-2)" in out and 'href="#m-3"' in out
    assert "p1911cd58e3" not in out.split("<text>")[0] and "p1911cd58e3 stays" in out  # only ids and #refs
    assert stable_svg_ids("<svg/>") == "<svg/>"
