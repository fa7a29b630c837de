"""The playground's Markdown renderer (playground/js/markdown.js) in Chromium, imported by the page as
the conversation imports it: what it renders, that no input makes it slower than linear, and that a
streamed reply is drawn as the whole text would be, its finished blocks drawn once."""
LINK = 'rel="noopener noreferrer nofollow" target="_blank"'
MARKDOWN = {
    "# Title\nText": "<h3>Title</h3><p>Text</p>",
    "- a\n- b\n  - c": "<ul><li><p>a</p></li><li><p>b</p><ul><li><p>c</p></li></ul></li></ul>",
    "3. x\n4. y": '<ol start="3"><li><p>x</p></li><li><p>y</p></li></ol>',
    "```js\nlet a = '<b>';\n```": "<pre><code class=\"language-js\">let a = '&lt;b&gt;';</code></pre>",
    "```py\nprint(1)": '<pre><code class="language-py">print(1)</code></pre>',  # still streaming in
    "> quoted": "<blockquote><p>quoted</p></blockquote>",
    "a | b\n--|--:\n1 | 2":
        '<div class="table-wrap"><table><thead><tr><th>a</th><th class="align-right">b</th></tr></thead>'
        '<tbody><tr><td>1</td><td class="align-right">2</td></tr></tbody></table></div>',
    "see https://example.com/x.":
        f'<p>see <a href="https://example.com/x" {LINK}>https://example.com/x</a>.</p>',
    "[docs](https://example.com/d)": f'<p><a href="https://example.com/d" {LINK}>docs</a></p>',
    "snake_case and *em* and __strong__ and ~~gone~~":
        "<p>snake_case and <em>em</em> and <strong>strong</strong> and <del>gone</del></p>",
    "[x](javascript:alert(1)) [y](/relative) [z](data:text/html,hi)":
        "<p><span>x</span> <span>y</span> <span>z</span></p>",
    "one\ntwo": "<p>one<br>two</p>",
    "\\*not em\\* and 2 * 3 * 4": "<p>*not em* and 2 * 3 * 4</p>",
    "`a <b> c` and ``x ` y``": "<p><code>a &lt;b&gt; c</code> and <code>x ` y</code></p>",
    "---": "<hr>",
    "**a *b* c** and [a (b)](https://x.org/a_(b) \"t\") and <https://x.org/y>":
        f'<p><strong>a <em>b</em> c</strong> and <a href="https://x.org/a_(b)" {LINK}>a (b)</a> and '
        f'<a href="https://x.org/y" {LINK}>https://x.org/y</a></p>',
    "![chart](https://x.org/c.png) ` a ` ## not a heading ##":
        f'<p><a href="https://x.org/c.png" {LINK}>chart (image)</a> <code>a</code> ## not a heading ##</p>',
    "## Closed ##\n* * *\n> > two deep": "<h4>Closed</h4><hr><blockquote><blockquote><p>two deep</p>"
                                         "</blockquote></blockquote>",
}


def test_markdown_renders_what_models_write(page):
    rendered = page.evaluate("""async (sources) => {
        const {renderMarkdown} = await import('./playground/js/markdown.js');
        return sources.map((source) => {
            const box = document.createElement('div');
            box.append(renderMarkdown(source));
            return box.innerHTML;
        });
    }""", list(MARKDOWN))
    assert dict(zip(MARKDOWN, rendered)) == MARKDOWN


# What made the old renderer quadratic (each opener searched the rest of the text for its closer) or
# overflow the stack (one level of recursion per ">"), and other shapes a model or a prompt injection
# may produce: one unit repeated to the size.
PATHOLOGICAL = ["*a ", "**a", "`a ", "[a](", "> ", "- ", "> " * 20 + "a\n", "- " * 20 + "a\n", "a", "[",
                "![a](x \"", "<http://a", "http://a.",
                "_a ", "~~a", "``a`", "\\*", "*http://a*x", "1. a\n   ", "#" + " " * 1000 + "x #\n",
                "```" + "a" * 1000 + "`\n", "|-|-:|\n"]
SMALL, LARGE = 12_500, 100_000

MEASURE = """async ([units, small, large]) => {
    const {renderMarkdown} = await import('./playground/js/markdown.js');
    const fastest = (source) => {  // the least of five: other processes share this machine's cores
        let best = Infinity;
        for (let k = 0; k < 5; k += 1) {
            const start = performance.now();
            renderMarkdown(source);
            best = Math.min(best, performance.now() - start);
        }
        return best;
    };
    const times = {};
    for (const unit of units) {
        const sized = (size) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
        try {
            const first = fastest(sized(small));
            // already too slow to be linear: the large one would take minutes, not a second
            times[unit] = [first, first > 150 ? null : fastest(sized(large))];
        } catch (err) {
            times[unit] = String(err);
        }
    }
    return times;
}"""


def test_pathological_input_renders_in_time_linear_in_its_length(page):
    times = page.evaluate(MEASURE, [PATHOLOGICAL, SMALL, LARGE])
    slow = {}
    for unit, measured in times.items():
        if isinstance(measured, str) or measured[1] is None:
            slow[unit] = measured
            continue
        small, large = measured
        # 100,000 characters well under a second, and eight times the text (three doublings) at most
        # 3x the time per doubling: a linear renderer takes about 8x, a quadratic one 64x.
        if not (large < 1000 and large <= 27 * small + 50):
            slow[unit] = measured
    assert slow == {}, f"milliseconds for {SMALL:,} and {LARGE:,} characters (or the error): {slow}"


STREAM = """async ([sources, sizes]) => {
    const {renderMarkdown, MarkdownStream} = await import('./playground/js/markdown.js');
    const differences = [];
    for (const source of sources) {
        const whole = document.createElement('div');
        whole.append(renderMarkdown(source));
        for (const size of sizes) {
            const box = document.createElement('div');
            const stream = new MarkdownStream(box);
            for (let i = 0; i < source.length; i += size) {
                stream.append(source.slice(i, i + size));
                stream.flush();
            }
            if (box.innerHTML !== whole.innerHTML) differences.push([source, size, box.innerHTML]);
        }
    }
    return differences;
}"""

LONG_REPLY = (
    "# Plan\r\n\r\nFirst, **read** the `config`:\r\n\r\n```toml\r\n[server]\r\nport = 8080\r\n```\r\n\r\n"
    "1. Install\n2. Run\n   - with `make run`\n\n   - or by hand\n\n3. Check\n\nnot in the list\n"
    "> a quote\n> > nested\nlazy line\n\n| a | b |\n|---|---|\n| 1 | 2 |\nno pipe\n---\n"
    "- item\n\n\n  still the item\n- [link](https://x.org/a) and https://x.org/b.\n\nEnd *of* reply")


def test_a_streamed_reply_is_drawn_as_the_whole_text_would_be(page):
    # Every way of cutting it into deltas, \r\n cut in two included, gives the same nodes.
    sources = [*MARKDOWN, LONG_REPLY, "\n\n".join(MARKDOWN), "\n".join(MARKDOWN)]
    assert page.evaluate(STREAM, [sources, [1, 2, 3, 7, 16]]) == []


def test_a_streamed_replys_finished_blocks_are_drawn_once(page):
    kept = page.evaluate("""async () => {
        const {MarkdownStream} = await import('./playground/js/markdown.js');
        const box = document.createElement('div');
        const stream = new MarkdownStream(box);
        const write = (text) => { stream.append(text); stream.flush(); };
        write('# Title\\n\\nThe first paragraph, *finished* by the blank line after it.\\n\\n- one\\n- tw');
        const heading = box.querySelector('h3');
        const paragraph = box.querySelector('p');
        write('o\\n\\nAfter the list.\\n\\n');
        const list = box.querySelector('ul');
        for (const word of 'A last paragraph arriving word by word'.split(' ')) write(word + ' ');
        write('\\n\\n```js\\nlet x = 1;\\n');
        return {
            sameHeading: box.querySelector('h3') === heading,
            sameParagraph: box.querySelector('p') === paragraph,
            sameList: box.querySelector('ul') === list,
            html: box.innerHTML,
        };
    }""")
    assert kept == {
        "sameHeading": True, "sameParagraph": True, "sameList": True,
        "html": "<h3>Title</h3><p>The first paragraph, <em>finished</em> by the blank line after it.</p>"
                "<ul><li><p>one</p></li><li><p>two</p></li></ul><p>After the list.</p>"
                "<p>A last paragraph arriving word by word</p>"
                '<pre><code class="language-js">let x = 1;\n</code></pre>'}
