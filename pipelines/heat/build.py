"""Parse tree -> syntax tree: the one visitor over ANTLR's contexts (see `syntax.py` for the nodes it makes).

Everything ANTLR-specific stops here; the passes downstream only see `pipelines.heat.syntax` dataclasses.
"""

from __future__ import annotations

import re

from antlr4.tree.Tree import TerminalNode

from pipelines.heat._generated import ClickHouseParser as P
from pipelines.heat.syntax import (
    Alias,
    ArrayJoin,
    Call,
    ColumnRef,
    CreateStatement,
    Cte,
    DerivedTable,
    ExplainStatement,
    Expr,
    InsertStatement,
    Join,
    Lambda,
    Literal,
    OrderItem,
    OtherStatement,
    Parameter,
    Query,
    QueryStatement,
    Select,
    SetOperation,
    Star,
    Statement,
    SubqueryExpr,
    TableFunction,
    TableItem,
    TableName,
    Window,
)


class TreeShapeError(ValueError):
    """The text parsed but means nothing ClickHouse accepts (e.g. `1 -> x`); carries the offending token."""

    def __init__(self, message: str, token):
        super().__init__(message)
        self.line = token.line
        self.column = token.column


# ClickHouse's names for operators, so passes match one shape (`equals`) whatever the spelling (`=`, `==`).
COMPARISON_FUNCTIONS = {
    "=": "equals", "==": "equals", "!=": "notEquals", "<>": "notEquals", "<": "less", "<=": "lessOrEquals",
    ">": "greater", ">=": "greaterOrEquals", "<=>": "isNotDistinctFrom",
}
ARITHMETIC_FUNCTIONS = {"+": "plus", "-": "minus", "*": "multiply", "/": "divide", "%": "modulo"}
INTERVAL_FUNCTIONS = {
    "MILLISECOND": "toIntervalMillisecond", "SECOND": "toIntervalSecond", "MINUTE": "toIntervalMinute",
    "HOUR": "toIntervalHour", "DAY": "toIntervalDay", "WEEK": "toIntervalWeek", "MONTH": "toIntervalMonth",
    "QUARTER": "toIntervalQuarter", "YEAR": "toIntervalYear",
}
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "`": "`"}
_ESCAPE = re.compile(r"\\(.)", re.S)


def unquote(text: str) -> str:
    """The value of a quoted string or identifier: 'it''s', `a``b`, "x", with backslash escapes."""
    quote = text[0]
    body = text[1:-1].replace(quote * 2, quote)
    if "\\" in body:
        body = _ESCAPE.sub(lambda m: _STRING_ESCAPES.get(m.group(1), m.group(1)), body)
    return body


def name_of(ctx: P.IdentifierContext) -> str:
    text = ctx.getText()
    return unquote(text) if text[0] in "`\"" else text


def unit_name(ctx: P.IntervalUnitContext) -> str:
    return ctx.getText().upper().removesuffix("S")  # DAYS -> DAY


def number_value(text: str):
    lowered = text.lower().replace("_", "")
    if lowered in ("inf", "nan"):
        return float(lowered)
    if lowered.startswith("0x"):
        return int(lowered, 16)
    if lowered.startswith("0b"):
        return int(lowered, 2)
    try:
        return int(lowered)
    except ValueError:
        return float(lowered)


# Expression-layer contexts and the method that builds each when it has an operator (see `SyntaxBuilder.expr`).
_LAYERS = {
    P.ExprContext: "lambda_or_operand", P.TernaryContext: "ternary", P.DisjunctionContext: "disjunction",
    P.ConjunctionContext: "conjunction", P.NegationContext: "negation", P.ComparisonContext: "comparison",
    P.ConcatenationContext: "concatenation", P.AdditiveContext: "additive", P.MultiplicativeContext: "multiplicative",
    P.UnaryContext: "unary", P.PostfixContext: "postfix",
}


class SyntaxBuilder:
    """Builds `syntax` nodes from parse-tree contexts. One method per grammar rule that carries meaning;
    layered expression rules with a single child collapse into that child."""

    # -- statements -------------------------------------------------------------------------------------------
    def statements(self, ctx: P.QueriesContext) -> list[Statement]:
        return [self.statement(s) for s in ctx.statement()]

    def statement(self, ctx: P.StatementContext) -> Statement:
        inner = ctx.getChild(0)
        if isinstance(inner, P.QueryStatementContext):
            fmt = inner.formatClause()
            return QueryStatement(self.query(inner.selectUnion()), name_of(fmt.identifier()) if fmt else None)
        if isinstance(inner, P.InsertStatementContext):
            return self.insert(inner)
        if isinstance(inner, P.ExplainStatementContext):
            words = []  # the kind words between EXPLAIN and the settings or the explained statement
            for child in list(inner.getChildren())[1:]:
                if isinstance(child, (P.StatementContext, P.SettingItemContext)):
                    break
                words.append(child.getText().upper())
            return ExplainStatement(" ".join(words) or "PLAN", self.statement(inner.statement()))
        if isinstance(inner, P.CreateStatementContext):
            return self.create(inner)
        return self.other(inner)

    def insert(self, ctx: P.InsertStatementContext) -> InsertStatement:
        if ctx.tableFunctionCall():
            call = ctx.tableFunctionCall()
            target = TableFunction(call.qualifiedName().getText(), self.arguments(call.argumentList()))
        else:
            target = self.table_name(ctx.qualifiedName())
        columns = tuple(name_of(i) for i in ctx.identifierList().identifier()) if ctx.identifierList() else ()
        query = self.query(ctx.selectUnion()) if ctx.selectUnion() else None
        return InsertStatement(target, columns, query)

    def create(self, ctx) -> CreateStatement:
        kind = type(ctx).__name__.removeprefix("Create").removesuffix("Context").lower()
        if isinstance(ctx, P.CreateDatabaseContext):
            return CreateStatement("database", TableName(name_of(ctx.identifier()), ""))
        if isinstance(ctx, P.CreateFunctionContext):
            return CreateStatement("function", TableName(None, name_of(ctx.identifier())))
        names = ctx.qualifiedName()
        names = names if isinstance(names, list) else [names]
        source = ctx.selectUnion() if hasattr(ctx, "selectUnion") else None
        others = tuple(self.table_name(n) for n in names[1:])
        return CreateStatement(kind, self.table_name(names[0]), self.query(source) if source else None, others)

    def other(self, ctx) -> OtherStatement:
        verb = ctx.start.text.upper()
        names = ctx.qualifiedName() if hasattr(ctx, "qualifiedName") else None
        names = names if isinstance(names, list) else ([names] if names else [])
        tables = tuple(self.table_name(n) for n in names)
        if isinstance(ctx, P.ShowListContext):  # SHOW TABLES FROM db names a database, not a table
            tables = ()
        expressions: tuple[Expr, ...] = ()
        if isinstance(ctx, (P.DeleteStatementContext,)):
            expressions = (self.expr(ctx.expr()),)
        return OtherStatement(verb, tables, expressions)

    # -- queries ----------------------------------------------------------------------------------------------
    def query(self, ctx: P.SelectUnionContext) -> Query:
        parts = [self.intersect(c) for c in ctx.selectIntersect()]
        if len(parts) == 1:
            return parts[0]
        operators = {op.getText().upper().replace("ALL", " ALL").replace("DISTINCT", " DISTINCT").strip()
                     for op in ctx.setOperator()}
        return SetOperation(" / ".join(sorted(operators)), tuple(parts))

    def intersect(self, ctx: P.SelectIntersectContext) -> Query:
        parts = [self.unit(c) for c in ctx.selectUnit()]
        return parts[0] if len(parts) == 1 else SetOperation("INTERSECT", tuple(parts))

    def unit(self, ctx: P.SelectUnitContext) -> Query:
        return self.select(ctx.select()) if ctx.select() else self.query(ctx.selectUnion())

    def select(self, ctx: P.SelectContext) -> Select:
        with_items = tuple(self.with_item(w) for w in ctx.withClause().withItem()) if ctx.withClause() else ()
        from_table, joins = (None, ())
        if ctx.fromClause():
            chain = ctx.fromClause().joinChain()
            from_table = self.table_item(chain.tableItem())
            joins = tuple(self.join_step(step) for step in chain.joinStep())
        group_by: list[Expr] = []
        if ctx.groupByClause():
            for element in ctx.groupByClause().groupingElement():
                group_by.extend(self.grouping_element(element))
        limits, limit_by = [], []
        for clause in ctx.limitClause():
            if clause.BY():
                limit_by.extend(self.expr_list(clause.exprList()))
            limits.extend(self.expr(e) for e in clause.expr())
        windows = ()
        if ctx.windowClause():
            w = ctx.windowClause()
            windows = tuple((name_of(i), self.window_spec(s)) for i, s in zip(w.identifier(), w.windowSpec()))
        return Select(
            projection=tuple(self.select_item(i) for i in ctx.selectList().selectItem()),
            with_items=with_items,
            distinct=ctx.DISTINCT() is not None,
            from_table=from_table,
            joins=joins,
            prewhere=self.expr(ctx.prewhereClause().expr()) if ctx.prewhereClause() else None,
            where=self.expr(ctx.whereClause().expr()) if ctx.whereClause() else None,
            group_by=tuple(group_by),
            having=self.expr(ctx.havingClause().expr()) if ctx.havingClause() else None,
            qualify=self.expr(ctx.qualifyClause().expr()) if ctx.qualifyClause() else None,
            windows=windows,
            order_by=tuple(self.order_item(o) for o in ctx.orderByClause().orderItem()) if ctx.orderByClause() else (),
            limit_by=tuple(limit_by),
            limits=tuple(limits),
        )

    def with_item(self, ctx):
        if isinstance(ctx, P.WithCteContext):
            return Cte(name_of(ctx.identifier()), self.query(ctx.selectUnion()))
        return Alias(name_of(ctx.identifier()), self.expr(ctx.expr()))

    def select_item(self, ctx: P.SelectItemContext) -> Expr:
        expression = self.expr(ctx.expr())
        excluded: list[str] = []
        for transformer in ctx.columnTransformer():
            if transformer.EXCEPT():
                excluded.extend(name_of(i) for i in transformer.identifier())
        if excluded and isinstance(expression, Star):
            expression = Star(expression.qualifier, tuple(excluded))
        alias = ctx.alias()
        return Alias(self.alias_name(alias), expression) if alias else expression

    @staticmethod
    def alias_name(ctx: P.AliasContext) -> str:
        if ctx.anyName():
            return name_of(ctx.anyName())
        text = ctx.getText()
        return unquote(text) if text[0] in "`\"" else text

    def grouping_element(self, ctx: P.GroupingElementContext) -> list[Expr]:
        if ctx.exprList():
            return self.expr_list(ctx.exprList())
        if ctx.groupingSet():
            found: list[Expr] = []
            for grouping_set in ctx.groupingSet():
                if grouping_set.exprList():
                    found.extend(self.expr_list(grouping_set.exprList()))
                elif grouping_set.expr():
                    found.append(self.expr(grouping_set.expr()))
            return found
        return [self.expr(ctx.expr())]

    def order_item(self, ctx: P.OrderItemContext) -> OrderItem:
        return OrderItem(self.expr(ctx.expr()), ctx.DESC() is not None)

    # -- FROM -------------------------------------------------------------------------------------------------
    def table_item(self, ctx: P.TableItemContext) -> TableItem:
        source_ctx = ctx.tableSource()
        if isinstance(source_ctx, P.SubquerySourceContext):
            source = DerivedTable(self.query(source_ctx.selectUnion()))
        elif isinstance(source_ctx, P.TableFunctionSourceContext):
            source = TableFunction(source_ctx.qualifiedName().getText(), self.arguments(source_ctx.argumentList()))
        elif isinstance(source_ctx, P.TableParameterSourceContext):
            source = self.parameter(source_ctx.parameterSlot())
        else:
            source = self.table_name(source_ctx.qualifiedName())
        alias, final = None, False
        for modifier in ctx.tableModifier():
            if modifier.alias():
                if alias is not None:
                    raise TreeShapeError("a table can have only one alias", modifier.start)
                alias = self.alias_name(modifier.alias())
            final = final or modifier.FINAL() is not None
        return TableItem(source, alias, final)

    def table_name(self, ctx: P.QualifiedNameContext) -> TableName:
        parts = [name_of(i) for i in ctx.identifier()]
        return TableName(parts[-2] if len(parts) > 1 else None, parts[-1])

    def join_step(self, ctx):
        if isinstance(ctx, P.ArrayJoinContext):
            items = []
            for item in ctx.arrayJoinItem():
                expression = self.expr(item.expr())
                items.append(Alias(self.alias_name(item.alias()), expression) if item.alias() else expression)
            return ArrayJoin(tuple(items), left=ctx.LEFT() is not None)
        if isinstance(ctx, P.CommaJoinContext):
            return Join("COMMA", self.table_item(ctx.tableItem()))
        if isinstance(ctx, P.CrossJoinContext):
            return Join("CROSS", self.table_item(ctx.tableItem()))
        words = [t.getText().upper() for t in ctx.getChildren() if not isinstance(t, (P.TableItemContext, P.JoinConstraintContext))]
        kind = " ".join(w for w in words if w != "JOIN") or "INNER"
        on, using = None, ()
        constraint = ctx.joinConstraint()
        if constraint is not None:
            expressions = self.expr_list(constraint.exprList())
            if constraint.ON():
                on = expressions[0] if len(expressions) == 1 else Call("and", tuple(expressions))
            else:
                using = tuple(".".join(e.parts) if isinstance(e, ColumnRef) else str(e) for e in expressions)
        return Join(kind, self.table_item(ctx.tableItem()), on, using)

    # -- expressions ------------------------------------------------------------------------------------------
    def expr_list(self, ctx: P.ExprListContext | None) -> list[Expr]:
        return [self.expr(e) for e in ctx.expr()] if ctx is not None else []

    def arguments(self, ctx: P.ArgumentListContext | None) -> tuple[Expr, ...]:
        return tuple(self.aliased(a) for a in ctx.aliasedExpr()) if ctx is not None else ()

    def aliased(self, ctx: P.AliasedExprContext) -> Expr:
        expression = self.expr(ctx.expr())
        return Alias(name_of(ctx.identifier()), expression) if ctx.identifier() else expression

    def expr(self, ctx) -> Expr:
        """Any expression-layer context. An operand without an operator at some precedence level is a chain of
        single-child contexts (expr > ternary > ... > postfix > primary); jumping down the chain to the first
        level that has an operator skips about ten accessor calls per operand, which is most of the build time."""
        while type(ctx) in _LAYERS and ctx.getChildCount() == 1:
            ctx = ctx.getChild(0)
        layer = _LAYERS.get(type(ctx))
        return getattr(self, layer)(ctx) if layer else self.primary(ctx)

    def lambda_or_operand(self, ctx: P.ExprContext) -> Expr:
        left = self.expr(ctx.ternary())
        if ctx.ARROW() is None:
            return left
        return Lambda(self.lambda_parameters(left, ctx.ARROW().symbol), self.expr(ctx.expr()))

    @staticmethod
    def lambda_parameters(left: Expr, token) -> tuple[str, ...]:
        if isinstance(left, ColumnRef) and len(left.parts) == 1:
            return left.parts
        if isinstance(left, Call) and left.name == "tuple" and all(
            isinstance(a, ColumnRef) and len(a.parts) == 1 for a in left.arguments
        ):
            return tuple(a.parts[0] for a in left.arguments)
        raise TreeShapeError("a lambda's parameters must be a name or a parenthesised list of names", token)

    def ternary(self, ctx: P.TernaryContext) -> Expr:
        condition = self.expr(ctx.disjunction())
        if ctx.QUESTION() is None:
            return condition
        return Call("if", (condition, self.expr(ctx.expr(0)), self.expr(ctx.expr(1))))

    def disjunction(self, ctx: P.DisjunctionContext) -> Expr:
        parts = [self.expr(c) for c in ctx.conjunction()]
        return parts[0] if len(parts) == 1 else Call("or", tuple(parts))

    def conjunction(self, ctx: P.ConjunctionContext) -> Expr:
        parts = [self.expr(c) for c in ctx.negation()]
        return parts[0] if len(parts) == 1 else Call("and", tuple(parts))

    def negation(self, ctx: P.NegationContext) -> Expr:
        if ctx.NOT() is not None:
            return Call("not", (self.expr(ctx.negation()),))
        return self.expr(ctx.comparison())

    def comparison(self, ctx: P.ComparisonContext) -> Expr:
        result = self.expr(ctx.concatenation())
        for tail in ctx.comparisonTail():
            result = self.comparison_tail(result, tail)
        return result

    def comparison_tail(self, left: Expr, ctx) -> Expr:
        negated = getattr(ctx, "NOT", lambda: None)() is not None
        if isinstance(ctx, P.CompareTailContext):
            name = COMPARISON_FUNCTIONS[ctx.comparisonOperator().getText()]
            return Call(name, (left, self.expr(ctx.concatenation())))
        if isinstance(ctx, P.LikeTailContext):
            name = "ilike" if ctx.ILIKE() else "like"
            return Call(("not" + name.capitalize()) if negated else name, (left, self.expr(ctx.concatenation())))
        if isinstance(ctx, P.InTailContext):
            name = ("global" if ctx.GLOBAL() else "") + ("NotIn" if negated else "In")
            name = name[0].lower() + name[1:]
            return Call(name, (left, self.expr(ctx.concatenation())))
        if isinstance(ctx, P.BetweenTailContext):
            low, high = (self.expr(c) for c in ctx.concatenation())
            between = Call("and", (Call("greaterOrEquals", (left, low)), Call("lessOrEquals", (left, high))))
            return Call("not", (between,)) if negated else between
        return Call("isNotNull" if negated else "isNull", (left,))

    def concatenation(self, ctx: P.ConcatenationContext) -> Expr:
        parts = [self.expr(c) for c in ctx.additive()]
        return parts[0] if len(parts) == 1 else Call("concat", tuple(parts))

    def additive(self, ctx: P.AdditiveContext) -> Expr:
        return self._binary_chain(ctx.multiplicative(), ctx)

    def multiplicative(self, ctx: P.MultiplicativeContext) -> Expr:
        return self._binary_chain(ctx.unary(), ctx)

    def _binary_chain(self, operands, ctx) -> Expr:
        if len(operands) == 1:
            return self.expr(operands[0])
        operators = [c.getText() for c in ctx.getChildren() if not hasattr(c, "getRuleIndex")]
        result = self.expr(operands[0])
        for operator, operand in zip(operators, operands[1:]):
            result = Call(ARITHMETIC_FUNCTIONS[operator], (result, self.expr(operand)))
        return result

    def unary(self, ctx: P.UnaryContext) -> Expr:
        if ctx.postfix() is not None:
            return self.expr(ctx.postfix())
        operand = self.expr(ctx.unary())
        if ctx.PLUS():
            return operand
        if isinstance(operand, Literal) and isinstance(operand.value, (int, float)):
            return Literal(-operand.value, "-" + operand.text)
        return Call("negate", (operand,))

    def postfix(self, ctx: P.PostfixContext) -> Expr:
        result = self.expr(ctx.primary())
        for operator in ctx.postfixOperator():
            if isinstance(operator, P.SubscriptContext):
                result = Call("arrayElement", (result, self.expr(operator.expr())))
            elif isinstance(operator, P.TupleElementContext):
                index = operator.DECIMAL_LITERAL().getText()
                result = Call("tupleElement", (result, Literal(int(index), index)))
            else:
                type_text = operator.columnType().getText()
                result = Call("CAST", (result, Literal(type_text, type_text)))
        return result

    def primary(self, ctx) -> Expr:  # noqa: C901 - one branch per alternative of the `primary` rule
        if isinstance(ctx, P.ColumnRefContext):
            return ColumnRef(tuple(name_of(i) for i in ctx.qualifiedName().identifier()))
        if isinstance(ctx, P.FunctionExprContext):
            return self.function_call(ctx.functionCall())
        if isinstance(ctx, P.LiteralExprContext):
            return self.literal(ctx.literal())
        if isinstance(ctx, P.ParameterExprContext):
            return self.parameter(ctx.parameterSlot())
        if isinstance(ctx, P.TupleOrParensContext):
            items = tuple(self.aliased(a) for a in ctx.aliasedExpr())
            if len(items) == 1 and ctx.COMMA() is None:
                return items[0]
            return Call("tuple", items)
        if isinstance(ctx, P.ArrayExprContext):
            return Call("array", tuple(self.expr_list(ctx.exprList())))
        if isinstance(ctx, P.SubqueryExprContext):
            return SubqueryExpr(self.query(ctx.selectUnion()))
        if isinstance(ctx, P.ExistsExprContext):
            return Call("exists", (SubqueryExpr(self.query(ctx.selectUnion())),))
        if isinstance(ctx, P.AsteriskExprContext):
            qualifier = ctx.qualifiedName()
            return Star(tuple(name_of(i) for i in qualifier.identifier()) if qualifier else ())
        if isinstance(ctx, P.CaseExprContext):
            return self.case(ctx)
        if isinstance(ctx, P.CastExprContext):
            target = ctx.columnType().getText() if ctx.columnType() else None
            arguments = [self.expr(e) for e in ctx.expr()]
            if target is not None:
                arguments.append(Literal(target, target))
            return Call("CAST", tuple(arguments))
        if isinstance(ctx, P.ExtractExprContext):
            unit = unit_name(ctx.intervalUnit())
            return Call("to" + unit.capitalize(), (self.expr(ctx.expr()),))
        if isinstance(ctx, P.IntervalExprContext):
            amount = self.expr(ctx.concatenation())
            unit = unit_name(ctx.intervalUnit()) if ctx.intervalUnit() else "SECOND"
            return Call(INTERVAL_FUNCTIONS[unit], (amount,))
        if isinstance(ctx, P.TrimExprContext):
            return Call("trim", (self.expr(ctx.expr()), Literal(unquote(ctx.STRING_LITERAL().getText()))))
        if isinstance(ctx, P.TypedLiteralContext):
            text = unquote(ctx.STRING_LITERAL().getText())
            return Call("toDate" if ctx.DATE() else "toDateTime", (Literal(text, ctx.STRING_LITERAL().getText()),))
        if isinstance(ctx, P.ColumnsMatcherContext):
            return Call("COLUMNS", (Literal(unquote(ctx.STRING_LITERAL().getText())),))
        raise TreeShapeError(f"unsupported expression {ctx.getText()!r}", ctx.start)

    def case(self, ctx: P.CaseExprContext) -> Expr:
        expressions = [self.expr(e) for e in ctx.expr()]
        has_operand = ctx.getChild(1).getText().upper() != "WHEN"
        operand = expressions.pop(0) if has_operand else None
        has_else = ctx.ELSE() is not None
        otherwise = expressions.pop() if has_else else Literal(None, "NULL")
        arguments: list[Expr] = []
        for condition, value in zip(expressions[0::2], expressions[1::2]):
            arguments += [Call("equals", (operand, condition)) if operand is not None else condition, value]
        return Call("multiIf", tuple(arguments + [otherwise]))

    def function_call(self, ctx: P.FunctionCallContext) -> Call:
        # Parenthesised groups before OVER: one group holds the arguments; two hold parameters, then arguments.
        groups: list[tuple[Expr, ...]] = []
        for child in ctx.getChildren():
            if isinstance(child, P.ArgumentListContext):
                groups[-1] = self.arguments(child)
            elif isinstance(child, TerminalNode) and child.symbol.type == P.LPAREN:
                groups.append(())
            elif isinstance(child, TerminalNode) and child.symbol.type in (P.FILTER, P.OVER):
                break
        parameters, arguments = (groups[0], groups[1]) if len(groups) == 2 else ((), groups[0])
        name = name_of(ctx.functionName().identifier())
        if ctx.FILTER() is not None:  # the aggregate's -If form, as ClickHouse rewrites it
            name, arguments = name + "If", arguments + (self.expr(ctx.expr()),)
        window = None
        if ctx.OVER() is not None:
            if ctx.windowSpec() is not None:
                window = self.window_spec(ctx.windowSpec())
            else:
                window = Window(name_of(ctx.identifier()[-1]), (), ())
        return Call(name, arguments, parameters, ctx.DISTINCT() is not None, window)

    def window_spec(self, ctx: P.WindowSpecContext) -> Window:
        base = name_of(ctx.identifier()) if ctx.identifier() else None
        partition = tuple(self.expr_list(ctx.exprList())) if ctx.exprList() else ()
        order = tuple(self.order_item(o) for o in ctx.orderItem())
        frame_exprs = []
        if ctx.windowFrame():
            frame_exprs = [self.expr(b.expr()) for b in ctx.windowFrame().frameBound() if b.expr()]
        return Window(base, partition + tuple(frame_exprs), order)

    def literal(self, ctx: P.LiteralContext) -> Literal:
        text = ctx.getText()
        if ctx.number():
            return Literal(number_value(text), text)
        if ctx.STRING_LITERAL():
            return Literal(unquote(text), text)
        upper = text.upper()
        return Literal({"NULL": None, "TRUE": True, "FALSE": False}[upper], text)

    def parameter(self, ctx: P.ParameterSlotContext) -> Parameter:
        return Parameter(name_of(ctx.anyName()), ctx.columnType().getText())
