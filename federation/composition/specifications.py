"""The fixed text of the specifications a supergraph links: join, link and the security
and cost features. Kept verbatim so the output matches what routers expect to read."""

from __future__ import annotations

LINK_URL = "https://specs.apollo.dev/link/v1.0"

JOIN_DIRECTIVES_V0_3 = {
    "join__enumValue": "directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE",
    "join__graph": "directive @join__graph(name: String!, url: String!) on ENUM_VALUE",
    "join__implements": (
        "directive @join__implements(graph: join__Graph!, interface: String!)"
        " repeatable on OBJECT | INTERFACE"
    ),
    "join__type": (
        "directive @join__type(graph: join__Graph!, key: join__FieldSet,"
        " extension: Boolean! = false, resolvable: Boolean! = true,"
        " isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM"
        " | INPUT_OBJECT | SCALAR"
    ),
    "join__unionMember": (
        "directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION"
    ),
}
JOIN_FIELD_ARGUMENTS = {
    "0.3": (
        "graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String,"
        " external: Boolean, override: String, usedOverridden: Boolean"
    ),
    "0.4": (
        "graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String,"
        " external: Boolean, override: String, usedOverridden: Boolean, overrideLabel: String"
    ),
    "0.5": (
        "graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String,"
        " external: Boolean, override: String, usedOverridden: Boolean, overrideLabel: String,"
        " contextArguments: [join__ContextArgument!]"
    ),
}
JOIN_DIRECTIVE_DIRECTIVE = (
    "directive @join__directive(graphs: [join__Graph!], name: String!,"
    " args: join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION"
)
LINK_DIRECTIVE = (
    "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import])"
    " repeatable on SCHEMA"
)
LINK_PURPOSE_ENUM = '''enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY

  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}'''
JOIN_CONTEXT_ARGUMENT = """input join__ContextArgument {
  name: String!
  type: String!
  context: String!
  selection: join__FieldValue!
}"""

# feature name -> (link arguments, directive definitions, extra type definitions)
FEATURES: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "tag": (
        'url: "https://specs.apollo.dev/tag/v0.3"',
        {
            "tag": "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT"
            " | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE"
            " | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA"
        },
        {},
    ),
    "inaccessible": (
        'url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY',
        {
            "inaccessible": "directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE"
            " | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT"
            " | INPUT_FIELD_DEFINITION"
        },
        {},
    ),
    "authenticated": (
        'url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY',
        {
            "authenticated": "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE"
            " | SCALAR | ENUM"
        },
        {},
    ),
    "requiresScopes": (
        'url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY',
        {
            "requiresScopes": "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!)"
            " on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM"
        },
        {"requiresScopes__Scope": "scalar requiresScopes__Scope"},
    ),
    "policy": (
        'url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY',
        {
            "policy": "directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION"
            " | OBJECT | INTERFACE | SCALAR | ENUM"
        },
        {"policy__Policy": "scalar policy__Policy"},
    ),
}
COST_URL = "https://specs.apollo.dev/cost/v0.1"
COST_DIRECTIVE = (
    "directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION"
    " | INPUT_FIELD_DEFINITION | OBJECT | SCALAR"
)
LIST_SIZE_ARGUMENTS = (
    "(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],"
    " requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION"
)
