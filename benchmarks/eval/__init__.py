"""The MyTalk evaluation suite: the yardstick every engine is judged by.

It runs the six protocols of `../shared/docs/evaluation.md` (shift, adr, dub, preserve, speed,
robust), and on request the closures protocol of issue #11, on the real clips in `../shared/media`, driving the product only through its public
`mytalk sync` command, exactly as an outside user would, and writes one report per run
(`report.json`, `report.md`, a contact sheet per output). Run it with
`python -m benchmarks.eval --engine NAME --out DIR` (see `__main__.py`).

Modules, one concept each:
- `settings`: the fast (CI) and full settings and the clip selection;
- `mediaio`: the suite's own decoding and encoding, independent of the product's;
- `landmarks`: face landmarks of sources and outputs through `mytalk.core.face`, cached;
- `metrics`: every figure, as pure functions;
- `retime`: the adr protocol's re-timed line and its exact time map;
- `tools`: the product as a tool (`mytalk sync` subprocess);
- `references`: the suite's own do-nothing and oracle tools, apart from the product;
- `protocols`: one module per protocol (`closures`: phones of known-text lines, opt-in);
- `voices`: espeak-ng lines (Spanish and German for dub, English known-text lines for closures);
- `contact_sheet`, `report`: the report's pictures and tables;
- `runner`: one run over clips and protocols, with the noise levels.

Importing any of these has no side effects.
"""
