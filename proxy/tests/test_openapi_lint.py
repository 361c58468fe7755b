"""proxy/openapi.yaml is a valid OpenAPI 3.1 document (openapi-spec-validator, from PyPI), and
the linter does catch a broken one."""

import copy
import pathlib
import unittest

import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

SPEC = pathlib.Path(__file__).parent.parent / "openapi.yaml"


def load():
    return yaml.safe_load(SPEC.read_text())


class Contract(unittest.TestCase):
    def test_the_contract_is_valid_openapi_3_1(self):
        spec = load()
        self.assertEqual(spec["openapi"], "3.1.0")
        validate(spec, cls=OpenAPIV31SpecValidator)

    def test_the_linter_catches_a_broken_contract(self):
        broken = copy.deepcopy(load())
        del broken["paths"]["/kyc/status"]["get"]["responses"]["200"]["description"]
        with self.assertRaises(Exception):
            validate(broken, cls=OpenAPIV31SpecValidator)
        broken = copy.deepcopy(load())
        broken["components"]["schemas"]["Error"]["type"] = "strng"
        with self.assertRaises(Exception):
            validate(broken, cls=OpenAPIV31SpecValidator)

    def test_the_browser_endpoints_their_token_and_their_refusals(self):
        spec = load()
        ops = {("/kyc/status", "get"), ("/kyc/start", "post"), ("/kyc/cancel", "post")}
        for path, method in ops:
            op = spec["paths"][path][method]
            for code in ("200", "401", "429", "502"):
                self.assertIn(code, op["responses"], f"{method} {path} {code}")
            self.assertIn("options", spec["paths"][path], f"{path} preflight")
        self.assertEqual(spec["security"], [{"pageToken": []}])
        self.assertEqual(spec["components"]["securitySchemes"]["pageToken"]["scheme"], "bearer")


if __name__ == "__main__":
    unittest.main(verbosity=2)
