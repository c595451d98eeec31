# Generated from ClickHouseParser.g4 by ANTLR 4.13.2
from antlr4 import *
if "." in __name__:
    from .ClickHouseParser import ClickHouseParser
else:
    from ClickHouseParser import ClickHouseParser

# This class defines a complete generic visitor for a parse tree produced by ClickHouseParser.

class ClickHouseParserVisitor(ParseTreeVisitor):

    # Visit a parse tree produced by ClickHouseParser#queries.
    def visitQueries(self, ctx:ClickHouseParser.QueriesContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#statement.
    def visitStatement(self, ctx:ClickHouseParser.StatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#queryStatement.
    def visitQueryStatement(self, ctx:ClickHouseParser.QueryStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#intoOutfile.
    def visitIntoOutfile(self, ctx:ClickHouseParser.IntoOutfileContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#formatClause.
    def visitFormatClause(self, ctx:ClickHouseParser.FormatClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#selectUnion.
    def visitSelectUnion(self, ctx:ClickHouseParser.SelectUnionContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#setOperator.
    def visitSetOperator(self, ctx:ClickHouseParser.SetOperatorContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#selectIntersect.
    def visitSelectIntersect(self, ctx:ClickHouseParser.SelectIntersectContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#selectUnit.
    def visitSelectUnit(self, ctx:ClickHouseParser.SelectUnitContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#select.
    def visitSelect(self, ctx:ClickHouseParser.SelectContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#withClause.
    def visitWithClause(self, ctx:ClickHouseParser.WithClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#withCte.
    def visitWithCte(self, ctx:ClickHouseParser.WithCteContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#withExpression.
    def visitWithExpression(self, ctx:ClickHouseParser.WithExpressionContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#distinctOn.
    def visitDistinctOn(self, ctx:ClickHouseParser.DistinctOnContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#topClause.
    def visitTopClause(self, ctx:ClickHouseParser.TopClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#selectList.
    def visitSelectList(self, ctx:ClickHouseParser.SelectListContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#selectItem.
    def visitSelectItem(self, ctx:ClickHouseParser.SelectItemContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#columnTransformer.
    def visitColumnTransformer(self, ctx:ClickHouseParser.ColumnTransformerContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#fromClause.
    def visitFromClause(self, ctx:ClickHouseParser.FromClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#joinChain.
    def visitJoinChain(self, ctx:ClickHouseParser.JoinChainContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#commaJoin.
    def visitCommaJoin(self, ctx:ClickHouseParser.CommaJoinContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#regularJoin.
    def visitRegularJoin(self, ctx:ClickHouseParser.RegularJoinContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#crossJoin.
    def visitCrossJoin(self, ctx:ClickHouseParser.CrossJoinContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#arrayJoin.
    def visitArrayJoin(self, ctx:ClickHouseParser.ArrayJoinContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#joinKind.
    def visitJoinKind(self, ctx:ClickHouseParser.JoinKindContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#joinStrictness.
    def visitJoinStrictness(self, ctx:ClickHouseParser.JoinStrictnessContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#joinConstraint.
    def visitJoinConstraint(self, ctx:ClickHouseParser.JoinConstraintContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#arrayJoinItem.
    def visitArrayJoinItem(self, ctx:ClickHouseParser.ArrayJoinItemContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tableItem.
    def visitTableItem(self, ctx:ClickHouseParser.TableItemContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tableModifier.
    def visitTableModifier(self, ctx:ClickHouseParser.TableModifierContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#subquerySource.
    def visitSubquerySource(self, ctx:ClickHouseParser.SubquerySourceContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tableFunctionSource.
    def visitTableFunctionSource(self, ctx:ClickHouseParser.TableFunctionSourceContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tableSourceName.
    def visitTableSourceName(self, ctx:ClickHouseParser.TableSourceNameContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tableParameterSource.
    def visitTableParameterSource(self, ctx:ClickHouseParser.TableParameterSourceContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#sampleClause.
    def visitSampleClause(self, ctx:ClickHouseParser.SampleClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#ratio.
    def visitRatio(self, ctx:ClickHouseParser.RatioContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#prewhereClause.
    def visitPrewhereClause(self, ctx:ClickHouseParser.PrewhereClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#whereClause.
    def visitWhereClause(self, ctx:ClickHouseParser.WhereClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#groupByClause.
    def visitGroupByClause(self, ctx:ClickHouseParser.GroupByClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#groupingElement.
    def visitGroupingElement(self, ctx:ClickHouseParser.GroupingElementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#groupingSet.
    def visitGroupingSet(self, ctx:ClickHouseParser.GroupingSetContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#havingClause.
    def visitHavingClause(self, ctx:ClickHouseParser.HavingClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#windowClause.
    def visitWindowClause(self, ctx:ClickHouseParser.WindowClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#qualifyClause.
    def visitQualifyClause(self, ctx:ClickHouseParser.QualifyClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#orderByClause.
    def visitOrderByClause(self, ctx:ClickHouseParser.OrderByClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#orderItem.
    def visitOrderItem(self, ctx:ClickHouseParser.OrderItemContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#withFill.
    def visitWithFill(self, ctx:ClickHouseParser.WithFillContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#limitClause.
    def visitLimitClause(self, ctx:ClickHouseParser.LimitClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#offsetClause.
    def visitOffsetClause(self, ctx:ClickHouseParser.OffsetClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#settingsClause.
    def visitSettingsClause(self, ctx:ClickHouseParser.SettingsClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#settingItem.
    def visitSettingItem(self, ctx:ClickHouseParser.SettingItemContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#exprList.
    def visitExprList(self, ctx:ClickHouseParser.ExprListContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#expr.
    def visitExpr(self, ctx:ClickHouseParser.ExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#ternary.
    def visitTernary(self, ctx:ClickHouseParser.TernaryContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#disjunction.
    def visitDisjunction(self, ctx:ClickHouseParser.DisjunctionContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#conjunction.
    def visitConjunction(self, ctx:ClickHouseParser.ConjunctionContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#negation.
    def visitNegation(self, ctx:ClickHouseParser.NegationContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#comparison.
    def visitComparison(self, ctx:ClickHouseParser.ComparisonContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#compareTail.
    def visitCompareTail(self, ctx:ClickHouseParser.CompareTailContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#likeTail.
    def visitLikeTail(self, ctx:ClickHouseParser.LikeTailContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#inTail.
    def visitInTail(self, ctx:ClickHouseParser.InTailContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#betweenTail.
    def visitBetweenTail(self, ctx:ClickHouseParser.BetweenTailContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#isNullTail.
    def visitIsNullTail(self, ctx:ClickHouseParser.IsNullTailContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#comparisonOperator.
    def visitComparisonOperator(self, ctx:ClickHouseParser.ComparisonOperatorContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#concatenation.
    def visitConcatenation(self, ctx:ClickHouseParser.ConcatenationContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#additive.
    def visitAdditive(self, ctx:ClickHouseParser.AdditiveContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#multiplicative.
    def visitMultiplicative(self, ctx:ClickHouseParser.MultiplicativeContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#unary.
    def visitUnary(self, ctx:ClickHouseParser.UnaryContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#postfix.
    def visitPostfix(self, ctx:ClickHouseParser.PostfixContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#subscript.
    def visitSubscript(self, ctx:ClickHouseParser.SubscriptContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tupleElement.
    def visitTupleElement(self, ctx:ClickHouseParser.TupleElementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#castOperator.
    def visitCastOperator(self, ctx:ClickHouseParser.CastOperatorContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#literalExpr.
    def visitLiteralExpr(self, ctx:ClickHouseParser.LiteralExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#parameterExpr.
    def visitParameterExpr(self, ctx:ClickHouseParser.ParameterExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#caseExpr.
    def visitCaseExpr(self, ctx:ClickHouseParser.CaseExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#castExpr.
    def visitCastExpr(self, ctx:ClickHouseParser.CastExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#extractExpr.
    def visitExtractExpr(self, ctx:ClickHouseParser.ExtractExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#intervalExpr.
    def visitIntervalExpr(self, ctx:ClickHouseParser.IntervalExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#trimExpr.
    def visitTrimExpr(self, ctx:ClickHouseParser.TrimExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#typedLiteral.
    def visitTypedLiteral(self, ctx:ClickHouseParser.TypedLiteralContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#existsExpr.
    def visitExistsExpr(self, ctx:ClickHouseParser.ExistsExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#subqueryExpr.
    def visitSubqueryExpr(self, ctx:ClickHouseParser.SubqueryExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tupleOrParens.
    def visitTupleOrParens(self, ctx:ClickHouseParser.TupleOrParensContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#arrayExpr.
    def visitArrayExpr(self, ctx:ClickHouseParser.ArrayExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#functionExpr.
    def visitFunctionExpr(self, ctx:ClickHouseParser.FunctionExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#columnsMatcher.
    def visitColumnsMatcher(self, ctx:ClickHouseParser.ColumnsMatcherContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#asteriskExpr.
    def visitAsteriskExpr(self, ctx:ClickHouseParser.AsteriskExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#columnRef.
    def visitColumnRef(self, ctx:ClickHouseParser.ColumnRefContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#functionCall.
    def visitFunctionCall(self, ctx:ClickHouseParser.FunctionCallContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#functionName.
    def visitFunctionName(self, ctx:ClickHouseParser.FunctionNameContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#argumentList.
    def visitArgumentList(self, ctx:ClickHouseParser.ArgumentListContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#aliasedExpr.
    def visitAliasedExpr(self, ctx:ClickHouseParser.AliasedExprContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#windowSpec.
    def visitWindowSpec(self, ctx:ClickHouseParser.WindowSpecContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#windowFrame.
    def visitWindowFrame(self, ctx:ClickHouseParser.WindowFrameContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#frameBound.
    def visitFrameBound(self, ctx:ClickHouseParser.FrameBoundContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#parameterSlot.
    def visitParameterSlot(self, ctx:ClickHouseParser.ParameterSlotContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#intervalUnit.
    def visitIntervalUnit(self, ctx:ClickHouseParser.IntervalUnitContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#literal.
    def visitLiteral(self, ctx:ClickHouseParser.LiteralContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#number.
    def visitNumber(self, ctx:ClickHouseParser.NumberContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#columnType.
    def visitColumnType(self, ctx:ClickHouseParser.ColumnTypeContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#columnTypeArgument.
    def visitColumnTypeArgument(self, ctx:ClickHouseParser.ColumnTypeArgumentContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#insertStatement.
    def visitInsertStatement(self, ctx:ClickHouseParser.InsertStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tableFunctionCall.
    def visitTableFunctionCall(self, ctx:ClickHouseParser.TableFunctionCallContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#valuesRow.
    def visitValuesRow(self, ctx:ClickHouseParser.ValuesRowContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#createTable.
    def visitCreateTable(self, ctx:ClickHouseParser.CreateTableContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#createView.
    def visitCreateView(self, ctx:ClickHouseParser.CreateViewContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#createDatabase.
    def visitCreateDatabase(self, ctx:ClickHouseParser.CreateDatabaseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#createDictionary.
    def visitCreateDictionary(self, ctx:ClickHouseParser.CreateDictionaryContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#createFunction.
    def visitCreateFunction(self, ctx:ClickHouseParser.CreateFunctionContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#ifNotExists.
    def visitIfNotExists(self, ctx:ClickHouseParser.IfNotExistsContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#ifExists.
    def visitIfExists(self, ctx:ClickHouseParser.IfExistsContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#onCluster.
    def visitOnCluster(self, ctx:ClickHouseParser.OnClusterContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#uuidClause.
    def visitUuidClause(self, ctx:ClickHouseParser.UuidClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#refreshClause.
    def visitRefreshClause(self, ctx:ClickHouseParser.RefreshClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#tableBody.
    def visitTableBody(self, ctx:ClickHouseParser.TableBodyContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#indexElement.
    def visitIndexElement(self, ctx:ClickHouseParser.IndexElementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#projectionElement.
    def visitProjectionElement(self, ctx:ClickHouseParser.ProjectionElementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#constraintElement.
    def visitConstraintElement(self, ctx:ClickHouseParser.ConstraintElementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#primaryKeyElement.
    def visitPrimaryKeyElement(self, ctx:ClickHouseParser.PrimaryKeyElementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#columnElement.
    def visitColumnElement(self, ctx:ClickHouseParser.ColumnElementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#columnDefinition.
    def visitColumnDefinition(self, ctx:ClickHouseParser.ColumnDefinitionContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#engineClause.
    def visitEngineClause(self, ctx:ClickHouseParser.EngineClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#dictionaryClause.
    def visitDictionaryClause(self, ctx:ClickHouseParser.DictionaryClauseContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#dictionaryArgument.
    def visitDictionaryArgument(self, ctx:ClickHouseParser.DictionaryArgumentContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterStatement.
    def visitAlterStatement(self, ctx:ClickHouseParser.AlterStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterAddColumn.
    def visitAlterAddColumn(self, ctx:ClickHouseParser.AlterAddColumnContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterDropColumn.
    def visitAlterDropColumn(self, ctx:ClickHouseParser.AlterDropColumnContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterModifyColumn.
    def visitAlterModifyColumn(self, ctx:ClickHouseParser.AlterModifyColumnContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterRenameColumn.
    def visitAlterRenameColumn(self, ctx:ClickHouseParser.AlterRenameColumnContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterCommentColumn.
    def visitAlterCommentColumn(self, ctx:ClickHouseParser.AlterCommentColumnContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterClearColumn.
    def visitAlterClearColumn(self, ctx:ClickHouseParser.AlterClearColumnContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterMaterializeColumn.
    def visitAlterMaterializeColumn(self, ctx:ClickHouseParser.AlterMaterializeColumnContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterAddIndex.
    def visitAlterAddIndex(self, ctx:ClickHouseParser.AlterAddIndexContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterDropIndex.
    def visitAlterDropIndex(self, ctx:ClickHouseParser.AlterDropIndexContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterPartition.
    def visitAlterPartition(self, ctx:ClickHouseParser.AlterPartitionContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterMovePartition.
    def visitAlterMovePartition(self, ctx:ClickHouseParser.AlterMovePartitionContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterModify.
    def visitAlterModify(self, ctx:ClickHouseParser.AlterModifyContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterUpdate.
    def visitAlterUpdate(self, ctx:ClickHouseParser.AlterUpdateContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alterDelete.
    def visitAlterDelete(self, ctx:ClickHouseParser.AlterDeleteContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#assignment.
    def visitAssignment(self, ctx:ClickHouseParser.AssignmentContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#dropStatement.
    def visitDropStatement(self, ctx:ClickHouseParser.DropStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#explainStatement.
    def visitExplainStatement(self, ctx:ClickHouseParser.ExplainStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#showCreate.
    def visitShowCreate(self, ctx:ClickHouseParser.ShowCreateContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#showList.
    def visitShowList(self, ctx:ClickHouseParser.ShowListContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#showProcesslist.
    def visitShowProcesslist(self, ctx:ClickHouseParser.ShowProcesslistContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#showOther.
    def visitShowOther(self, ctx:ClickHouseParser.ShowOtherContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#describeStatement.
    def visitDescribeStatement(self, ctx:ClickHouseParser.DescribeStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#useStatement.
    def visitUseStatement(self, ctx:ClickHouseParser.UseStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#setStatement.
    def visitSetStatement(self, ctx:ClickHouseParser.SetStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#optimizeStatement.
    def visitOptimizeStatement(self, ctx:ClickHouseParser.OptimizeStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#truncateStatement.
    def visitTruncateStatement(self, ctx:ClickHouseParser.TruncateStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#renameStatement.
    def visitRenameStatement(self, ctx:ClickHouseParser.RenameStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#exchangeStatement.
    def visitExchangeStatement(self, ctx:ClickHouseParser.ExchangeStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#existsStatement.
    def visitExistsStatement(self, ctx:ClickHouseParser.ExistsStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#deleteStatement.
    def visitDeleteStatement(self, ctx:ClickHouseParser.DeleteStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#systemStatement.
    def visitSystemStatement(self, ctx:ClickHouseParser.SystemStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#killStatement.
    def visitKillStatement(self, ctx:ClickHouseParser.KillStatementContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#qualifiedName.
    def visitQualifiedName(self, ctx:ClickHouseParser.QualifiedNameContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#identifierList.
    def visitIdentifierList(self, ctx:ClickHouseParser.IdentifierListContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#alias.
    def visitAlias(self, ctx:ClickHouseParser.AliasContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#anyName.
    def visitAnyName(self, ctx:ClickHouseParser.AnyNameContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#identifier.
    def visitIdentifier(self, ctx:ClickHouseParser.IdentifierContext):
        return self.visitChildren(ctx)


    # Visit a parse tree produced by ClickHouseParser#keywordName.
    def visitKeywordName(self, ctx:ClickHouseParser.KeywordNameContext):
        return self.visitChildren(ctx)



del ClickHouseParser