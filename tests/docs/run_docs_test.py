#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Tests of the docs runner itself (ctest docs.runner): markers, placeholders, transcripts, and that a page whose
block fails, prints the wrong output or leaves objects behind fails with the page, the line and the difference."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_docs  # noqa: E402

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_docs.py")
BUILD = os.environ.get("DFPROXY_BUILD_DIR", "")


class Parsing(unittest.TestCase):
    def test_markers_bind_to_the_next_fence_only(self):
        page = ('<!-- docs-test: skip reason="a GUI" -->\n```sh\ngui\n```\n\ntext\n\n```sh\nrun me\n```\n'
                '<!-- docs-test: skip reason="x" -->\nprose in between\n```sh\nrun me too\n```\n')
        runs, problems = run_docs.plan(page)
        self.assertEqual([b.first_line() for b in runs], ["run me", "run me too"])
        self.assertEqual(problems, [])

    def test_skip_needs_a_reason(self):
        runs, problems = run_docs.plan('<!-- docs-test: skip -->\n```sh\nx\n```\n')
        self.assertEqual(runs, [])
        self.assertEqual(len(problems), 1)

    def test_output_block_belongs_to_the_shell_block_before(self):
        runs, problems = run_docs.plan('```sh\necho a\n```\n\n<!-- docs-test: output -->\n```\na\n```\n')
        self.assertEqual(problems, [])
        self.assertEqual(runs[0].expected, "a\n")

    def test_indented_fences_in_list_items(self):
        runs, _ = run_docs.plan('- item:\n\n  ```sh\n  echo a\n  ```\n')
        self.assertEqual(runs[0].text, "echo a\n")

    def test_transcripts(self):
        runs, _ = run_docs.plan('```\n$ echo a \\\n  b\na b\n$ true\n```\n')
        self.assertTrue(runs[0].is_transcript())
        self.assertEqual(run_docs.parse_transcript(runs[0].text), [("echo a \\\n  b\n", "a b\n"), ("true\n", "\n")])

    def test_page_skip(self):
        self.assertEqual(run_docs.page_marker('x\n<!-- docs-test: page-skip reason="later" -->\n', "page-skip"),
                         {"reason": "later"})


class Matching(unittest.TestCase):
    def test_placeholders(self):
        self.assertTrue(run_docs.output_matches("Retry-After: {{int}}\n", "Retry-After: 60\n"))
        self.assertFalse(run_docs.output_matches("Retry-After: {{int}}\n", "Retry-After: soon\n"))
        self.assertTrue(run_docs.output_matches("at {{time}} in {{num}} s\n", "at 2026-12-07T05:39:49.123Z in 1.5 s\n"))
        self.assertTrue(run_docs.output_matches("x {{age}} y\n", "x 3m12s y\n"))
        self.assertTrue(run_docs.output_matches("x {{age}} y\n", "x <unknown> y\n"))
        self.assertTrue(run_docs.output_matches("a{{any}}z\n", "abcz\n"))

    def test_any_lines(self):
        self.assertTrue(run_docs.output_matches("{{...}}\nlast\n", "one\ntwo\nlast\n"))
        self.assertTrue(run_docs.output_matches("{{...}}\nlast\n", "last\n"))
        self.assertFalse(run_docs.output_matches("{{...}}\nlast\n", "last\nmore\n"))

    def test_columns_follow_their_values(self):
        self.assertTrue(run_docs.output_matches("NAME   AGE\nx      {{age}}\n", "NAME  AGE\nx     10s\n"))
        self.assertFalse(run_docs.output_matches("NAME AGE\n", "NAME  AGE\n"))

    def test_literal_text_is_literal(self):
        self.assertFalse(run_docs.output_matches("a.c (x)\n", "abc (x)\n"))

    def test_unknown_placeholder_is_an_error(self):
        with self.assertRaises(ValueError):
            run_docs.output_matches("{{nope}}\n", "x\n")


@unittest.skipUnless(BUILD and os.path.exists(os.path.join(BUILD, "service", "dfproxy")),
                     "DFPROXY_BUILD_DIR does not hold a built dfproxy")
class Pages(unittest.TestCase):
    """The runner on small pages of its own, through ctest's way of calling it."""

    def setUp(self):
        self.src = tempfile.mkdtemp(prefix="dfproxy-docs-selftest-")
        self.fixtures = os.path.join(self.src, "fixtures")
        os.makedirs(os.path.join(self.src, "docs"))
        os.makedirs(self.fixtures)
        with open(os.path.join(self.fixtures, "default.json"), "w") as f:
            f.write('{"hosts": {"httpbin.test": ["127.0.0.1"]}, "origins": [{"listen": ["127.0.0.1:80"]}]}')

    def tearDown(self):
        shutil.rmtree(self.src, ignore_errors=True)

    def run_page(self, text):
        with open(os.path.join(self.src, "docs", "page.md"), "w") as f:
            f.write(text)
        r = subprocess.run([sys.executable, RUNNER, "docs/page.md", "--source", self.src, "--build", BUILD,
                            "--fixtures", self.fixtures], capture_output=True, text=True, timeout=120)
        if r.returncode == run_docs.SKIP and "namespace" in r.stdout:
            self.skipTest(r.stdout.strip())
        return r.returncode, r.stdout

    def test_a_page_that_works(self):
        rc, out = self.run_page("```sh\nX=1\n```\n\n```sh\ncurl -s -o /dev/null -w '%{http_code}\\n' "
                                "-H 'host: httpbin.test' http://127.0.0.1:8080/; echo $X\n```\n\n"
                                "<!-- docs-test: output -->\n```\n404\n1\n```\n")
        self.assertEqual(rc, 0, out)

    def test_a_failing_command_names_the_page_line_and_command(self):
        rc, out = self.run_page("# t\n\n```sh\n# first line\nfalse\necho after\n```\n")
        self.assertEqual(rc, 1, out)
        self.assertIn("FAIL docs/page.md:3 `# first line`", out)
        self.assertIn("exit 1 from: false", out)

    def test_a_wrong_output_shows_the_difference(self):
        rc, out = self.run_page("```sh\necho 200\n```\n\n<!-- docs-test: output -->\n```\n403\n```\n")
        self.assertEqual(rc, 1, out)
        self.assertIn("-403", out)
        self.assertIn("+200", out)

    def test_objects_left_behind_fail_the_page(self):
        rc, out = self.run_page("```sh\ndfproxyctl apply -f resources/examples/seed/dfp-backend.yaml\n```\n"
                                .replace("resources/examples/seed", os.path.join(run_docs_source(), "resources",
                                                                                 "examples", "seed")))
        self.assertEqual(rc, 1, out)
        self.assertIn("leave objects behind", out)
        self.assertIn("+  name: dfp-backend", out)

    def test_refuses_to_set_up_outside_its_own_namespaces(self):
        # Claiming to be inside (DFPROXY_DOCS_NS=inside) must not make the runner bind-mount /etc/resolv.conf or
        # bind the docs' ports where it stands. Checked inside a throwaway namespace, so a broken check harms nothing.
        with open(os.path.join(self.src, "docs", "page.md"), "w") as f:
            f.write("```sh\ntrue\n```\n")
        if subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "true"],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot make a namespace to check this in")
        r = subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "env", "DFPROXY_DOCS_NS=inside",
                            sys.executable, RUNNER, "docs/page.md", "--source", self.src, "--build", BUILD,
                            "--fixtures", self.fixtures], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("refusing to run", r.stderr)

    def test_page_skip(self):
        rc, out = self.run_page('<!-- docs-test: page-skip reason="later" -->\n```sh\nfalse\n```\n')
        self.assertEqual(rc, run_docs.SKIP, out)
        self.assertIn("later", out)


def run_docs_source():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


if __name__ == "__main__":
    unittest.main()
