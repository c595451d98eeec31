// ClickHouse SQL parser, written for Trackflow's query-heat extraction (see grammars/README.md).
//
// Shape chosen for the pure-Python ANTLR runtime: expressions are layered rules (one rule per precedence level)
// whose operator loops are LL(1), instead of one left-recursive rule, so most decisions are a token-set test and
// never reach adaptive prediction. Lambdas are parsed as `expr -> expr` at the lowest level for the same reason;
// the visitor checks that the left side is a name or a tuple of names.
parser grammar ClickHouseParser;

options { tokenVocab = ClickHouseLexer; }

// -- statements -----------------------------------------------------------------------------------------------
queries: SEMICOLON* statement (SEMICOLON+ statement)* SEMICOLON* EOF;

statement
    : queryStatement
    | insertStatement
    | createStatement
    | alterStatement
    | dropStatement
    | explainStatement
    | showStatement
    | describeStatement
    | simpleStatement
    ;

queryStatement: selectUnion intoOutfile? formatClause? settingsClause?;

intoOutfile: INTO OUTFILE STRING_LITERAL;
formatClause: FORMAT identifier;

// -- SELECT ---------------------------------------------------------------------------------------------------
// INTERSECT binds tighter than UNION and EXCEPT, as in ClickHouse.
selectUnion: selectIntersect (setOperator selectIntersect)*;
setOperator: (UNION | EXCEPT) (ALL | DISTINCT)?;
selectIntersect: selectUnit (INTERSECT (ALL | DISTINCT)? selectUnit)*;
selectUnit: select | LPAREN selectUnion RPAREN;

select
    : withClause?
      SELECT DISTINCT? distinctOn? topClause? selectList
      fromClause?
      prewhereClause?
      whereClause?
      groupByClause?
      havingClause?
      windowClause?
      qualifyClause?
      orderByClause?
      limitClause*
      offsetClause?
      settingsClause?
    ;

withClause: WITH RECURSIVE? withItem (COMMA withItem)*;
withItem
    : identifier AS MATERIALIZED? LPAREN selectUnion RPAREN   # withCte
    | expr AS identifier                               # withExpression
    ;

distinctOn: ON LPAREN exprList RPAREN;
topClause: TOP DECIMAL_LITERAL (WITH TIES)?;

selectList: selectItem (COMMA selectItem)* COMMA?;
selectItem: expr columnTransformer* alias?;
columnTransformer
    : EXCEPT (LPAREN identifier (COMMA identifier)* RPAREN | identifier)
    | REPLACE LPAREN expr AS identifier (COMMA expr AS identifier)* RPAREN
    | APPLY LPAREN functionName RPAREN
    ;

fromClause: FROM joinChain;
joinChain: tableItem joinStep*;
joinStep
    : COMMA tableItem                                                    # commaJoin
    | GLOBAL? LOCAL? joinKind? JOIN tableItem joinConstraint?            # regularJoin
    | (CROSS | PASTE) JOIN tableItem                                     # crossJoin
    | (LEFT | INNER)? ARRAY JOIN arrayJoinItem (COMMA arrayJoinItem)*   # arrayJoin
    ;
joinKind
    : joinStrictness? (INNER | LEFT | RIGHT | FULL) OUTER? joinStrictness?
    | joinStrictness
    ;
joinStrictness: ANY | ALL | ASOF | SEMI | ANTI;
joinConstraint: ON exprList | USING (LPAREN exprList RPAREN | exprList);
arrayJoinItem: expr alias?;

// ClickHouse accepts the alias before or after FINAL / SAMPLE, so the modifiers come in any order.
tableItem: tableSource tableModifier*;
tableModifier: FINAL | sampleClause | alias;
tableSource
    : LPAREN selectUnion RPAREN                                          # subquerySource
    | qualifiedName LPAREN argumentList? RPAREN                          # tableFunctionSource
    | qualifiedName                                                      # tableSourceName
    | parameterSlot                                                      # tableParameterSource
    ;
sampleClause: SAMPLE ratio (OFFSET ratio)?;
ratio: number (SLASH number)?;

prewhereClause: PREWHERE expr;
whereClause: WHERE expr;
groupByClause
    : GROUP BY (ALL | groupingElement (COMMA groupingElement)*) (WITH (ROLLUP | CUBE))? (WITH TOTALS)?
    ;
groupingElement
    : (ROLLUP | CUBE) LPAREN exprList RPAREN
    | GROUPING SETS LPAREN groupingSet (COMMA groupingSet)* RPAREN
    | expr
    ;
groupingSet: LPAREN exprList? RPAREN | expr;
havingClause: HAVING expr;
windowClause: WINDOW identifier AS LPAREN windowSpec RPAREN (COMMA identifier AS LPAREN windowSpec RPAREN)*;
qualifyClause: QUALIFY expr;
orderByClause: ORDER BY (ALL | orderItem (COMMA orderItem)*);
orderItem: expr (ASC | DESC)? (NULLS (FIRST | LAST))? (COLLATE STRING_LITERAL)? withFill?;
withFill: WITH FILL (FROM expr)? (TO expr)? (STEP expr)?;
// `LIMIT n BY cols` and a plain `LIMIT n` may both appear; BY tells them apart.
limitClause: LIMIT expr ((COMMA | OFFSET) expr)? (WITH TIES | BY exprList)?;
offsetClause: OFFSET expr (ROW | ROWS)? (FETCH (FIRST | identifier) expr (ROW | ROWS) (identifier | WITH TIES))?;
settingsClause: SETTINGS settingItem (COMMA settingItem)*;
settingItem: identifier EQ_SINGLE expr;

// -- expressions (lowest precedence first) --------------------------------------------------------------------
exprList: expr (COMMA expr)* COMMA?;

expr: ternary (ARROW expr)?;
ternary: disjunction (QUESTION expr COLON expr)?;
disjunction: conjunction (OR conjunction)*;
conjunction: negation (AND negation)*;
negation: NOT negation | comparison;
comparison: concatenation comparisonTail*;
comparisonTail
    : comparisonOperator concatenation                                   # compareTail
    | NOT? (LIKE | ILIKE) concatenation                                  # likeTail
    | GLOBAL? NOT? IN concatenation                                      # inTail
    | NOT? BETWEEN concatenation AND concatenation                       # betweenTail
    | IS NOT? NULL                                                       # isNullTail
    ;
comparisonOperator: EQ_SINGLE | EQ_DOUBLE | NOT_EQ | LT | LE | GT | GE | NULL_SAFE_EQ;
concatenation: additive (CONCAT additive)*;
additive: multiplicative ((PLUS | MINUS) multiplicative)*;
multiplicative: unary ((ASTERISK | SLASH | PERCENT) unary)*;
unary: (MINUS | PLUS) unary | postfix;
postfix: primary postfixOperator*;
postfixOperator
    : LBRACKET expr RBRACKET                                             # subscript
    | DOT DECIMAL_LITERAL                                                # tupleElement
    | DOUBLE_COLON columnType                                            # castOperator
    ;

primary
    : literal                                                            # literalExpr
    | parameterSlot                                                      # parameterExpr
    | CASE expr? (WHEN expr THEN expr)+ (ELSE expr)? END                 # caseExpr
    | CAST LPAREN expr (AS columnType | COMMA expr) RPAREN               # castExpr
    | EXTRACT LPAREN intervalUnit FROM expr RPAREN                       # extractExpr
    | INTERVAL concatenation intervalUnit?                               # intervalExpr
    | TRIM LPAREN (BOTH | LEADING | TRAILING) STRING_LITERAL FROM expr RPAREN  # trimExpr
    | (DATE | TIMESTAMP) STRING_LITERAL                                  # typedLiteral
    | EXISTS LPAREN selectUnion RPAREN                                   # existsExpr
    | LPAREN selectUnion RPAREN                                          # subqueryExpr
    | LPAREN (aliasedExpr (COMMA aliasedExpr)* COMMA?)? RPAREN           # tupleOrParens
    | LBRACKET (exprList)? RBRACKET                                      # arrayExpr
    | functionCall                                                       # functionExpr
    | COLUMNS LPAREN STRING_LITERAL RPAREN                               # columnsMatcher
    | (qualifiedName DOT)? ASTERISK                                      # asteriskExpr
    | qualifiedName                                                      # columnRef
    ;

// `windowFunnel(86400)(ts, cond1, cond2)`: the first list holds the parameters of a parametric aggregate.
functionCall
    : functionName LPAREN (DISTINCT? argumentList)? RPAREN
      (LPAREN argumentList? RPAREN)?
      (nullsTreatment = identifier NULLS)?  // RESPECT NULLS, IGNORE NULLS
      (FILTER LPAREN WHERE expr RPAREN)?    // sum(x) FILTER (WHERE c): ClickHouse reads it as sumIf(x, c)
      (OVER (LPAREN windowSpec RPAREN | identifier))?
    ;
functionName: identifier;
argumentList: aliasedExpr (COMMA aliasedExpr)* COMMA?;
aliasedExpr: expr (AS identifier)?;

windowSpec: identifier? (PARTITION BY exprList)? (ORDER BY orderItem (COMMA orderItem)*)? windowFrame?;
windowFrame: (ROWS | RANGE) (BETWEEN frameBound AND frameBound | frameBound);
frameBound: UNBOUNDED (PRECEDING | FOLLOWING) | CURRENT ROW | expr (PRECEDING | FOLLOWING);

parameterSlot: LBRACE anyName COLON columnType RBRACE;

intervalUnit: MILLISECOND | SECOND | MINUTE | HOUR | DAY | WEEK | MONTH | QUARTER | YEAR;

literal
    : number
    | STRING_LITERAL
    | NULL
    | TRUE
    | FALSE
    ;
number: FLOATING_LITERAL | DECIMAL_LITERAL | HEXADECIMAL_LITERAL | BINARY_LITERAL | INF | NAN;

// -- types ----------------------------------------------------------------------------------------------------
columnType: identifier (LPAREN (columnTypeArgument (COMMA columnTypeArgument)*)? RPAREN)?;
columnTypeArgument
    : STRING_LITERAL (EQ_SINGLE MINUS? DECIMAL_LITERAL)?
    | MINUS? number
    | identifier columnType
    | columnType
    ;

// -- INSERT ---------------------------------------------------------------------------------------------------
insertStatement
    : INSERT INTO TABLE? (FUNCTION tableFunctionCall | qualifiedName) (LPAREN identifierList? RPAREN)?
      settingsClause?
      (VALUES valuesRow (COMMA? valuesRow)* | FORMAT identifier | selectUnion)?
    ;
tableFunctionCall: qualifiedName LPAREN argumentList? RPAREN;
valuesRow: LPAREN exprList? RPAREN;

// -- DDL ------------------------------------------------------------------------------------------------------
createStatement
    : (CREATE (OR REPLACE)? | ATTACH | REPLACE) TEMPORARY? TABLE ifNotExists? qualifiedName uuidClause? onCluster?
      tableBody? engineClause* (AS (selectUnion | qualifiedName | tableFunctionCall))? engineClause*  # createTable
    | (CREATE (OR REPLACE)? | ATTACH) (MATERIALIZED | LIVE)? VIEW ifNotExists? qualifiedName onCluster?
      refreshClause? (TO qualifiedName)? tableBody? engineClause* POPULATE? AS selectUnion           # createView
    | (CREATE | ATTACH) DATABASE ifNotExists? identifier onCluster? engineClause*                   # createDatabase
    | (CREATE (OR REPLACE)? | ATTACH) DICTIONARY ifNotExists? qualifiedName onCluster?
      LPAREN tableElement (COMMA tableElement)* RPAREN dictionaryClause*                           # createDictionary
    | CREATE (OR REPLACE)? FUNCTION identifier onCluster? AS expr                                   # createFunction
    ;
ifNotExists: IF NOT EXISTS;
ifExists: IF EXISTS;
onCluster: ON CLUSTER (identifier | STRING_LITERAL);
uuidClause: identifier STRING_LITERAL;  // UUID 'xxxx'
refreshClause: REFRESH identifier expr intervalUnit?;
tableBody: LPAREN tableElement (COMMA tableElement)* COMMA? RPAREN;
tableElement
    : INDEX identifier expr TYPE_NAME = identifier columnType? (GRANULARITY DECIMAL_LITERAL)?         # indexElement
    | PROJECTION identifier LPAREN select RPAREN                                                    # projectionElement
    | CONSTRAINT identifier (CHECK | identifier) expr                                               # constraintElement
    | PRIMARY KEY expr                                                                              # primaryKeyElement
    | columnDefinition                                                                              # columnElement
    ;
columnDefinition
    : identifier columnType? (NOT? NULL)? ((DEFAULT | MATERIALIZED | ALIAS | EPHEMERAL) expr?)?
      (COMMENT STRING_LITERAL)? (CODEC LPAREN argumentList RPAREN)? (TTL expr)? (PRIMARY KEY)?
    ;
engineClause
    : ENGINE EQ_SINGLE? identifier (LPAREN argumentList? RPAREN)?
    | PARTITION BY expr
    | ORDER BY expr
    | PRIMARY KEY expr
    | SAMPLE BY expr
    | TTL expr (COMMA expr)*
    | settingsClause
    | COMMENT STRING_LITERAL
    ;
dictionaryClause
    : PRIMARY KEY exprList
    | SOURCE LPAREN identifier LPAREN dictionaryArgument* RPAREN RPAREN
    | LAYOUT LPAREN identifier LPAREN dictionaryArgument* RPAREN RPAREN
    | LIFETIME LPAREN (expr | dictionaryArgument*) RPAREN
    | RANGE LPAREN dictionaryArgument* RPAREN
    | settingsClause
    | COMMENT STRING_LITERAL
    ;
dictionaryArgument: identifier (expr | LPAREN dictionaryArgument* RPAREN);

alterStatement: ALTER TABLE qualifiedName onCluster? alterAction (COMMA alterAction)*;
alterAction
    : ADD COLUMN ifNotExists? columnDefinition ((AFTER identifier) | FIRST)?       # alterAddColumn
    | DROP COLUMN ifExists? identifier                                            # alterDropColumn
    | MODIFY COLUMN ifExists? columnDefinition                                    # alterModifyColumn
    | RENAME COLUMN ifExists? identifier TO identifier                            # alterRenameColumn
    | COMMENT COLUMN ifExists? identifier STRING_LITERAL                          # alterCommentColumn
    | CLEAR COLUMN ifExists? identifier (IN PARTITION expr)?                      # alterClearColumn
    | MATERIALIZE COLUMN identifier (IN PARTITION expr)?                          # alterMaterializeColumn
    | ADD INDEX ifNotExists? identifier expr identifier columnType? (GRANULARITY DECIMAL_LITERAL)?  # alterAddIndex
    | DROP INDEX ifExists? identifier                                             # alterDropIndex
    | (DROP | DETACH | ATTACH | FREEZE) PARTITION expr                            # alterPartition
    | MOVE PARTITION expr TO (TABLE qualifiedName | identifier STRING_LITERAL)    # alterMovePartition
    | MODIFY (ORDER BY | TTL | SETTING = identifier) expr (COMMA expr)*           # alterModify
    | UPDATE assignment (COMMA assignment)* (IN PARTITION expr)? WHERE expr       # alterUpdate
    | DELETE (IN PARTITION expr)? WHERE expr                                      # alterDelete
    ;
assignment: identifier EQ_SINGLE expr;

dropStatement
    : (DROP | DETACH) (DATABASE | TEMPORARY? TABLE | VIEW | DICTIONARY | FUNCTION) ifExists?
      qualifiedName onCluster? SYNC?
    ;

// -- EXPLAIN, SHOW, DESCRIBE and small statements -------------------------------------------------------------
explainStatement
    : EXPLAIN (AST | SYNTAX | QUERY TREE | PLAN | PIPELINE | ESTIMATE | TABLE identifier)?
      (settingItem (COMMA settingItem)*)? statement
    ;
showStatement
    : SHOW CREATE (TEMPORARY? TABLE | VIEW | DICTIONARY | DATABASE)? qualifiedName                   # showCreate
    | SHOW identifier? (TABLES | DATABASES | DICTIONARIES | COLUMNS) ((FROM | IN) qualifiedName)?
      (NOT? (LIKE | ILIKE) STRING_LITERAL)? (LIMIT expr)?                                           # showList
    | SHOW PROCESSLIST                                                                              # showProcesslist
    | SHOW identifier+                                                                              # showOther
    ;
describeStatement: (DESCRIBE | DESC) TABLE? (qualifiedName | tableFunctionCall | LPAREN selectUnion RPAREN);
simpleStatement
    : USE identifier                                                                                # useStatement
    | SET settingItem (COMMA settingItem)*                                                          # setStatement
    | OPTIMIZE TABLE qualifiedName onCluster? (PARTITION expr)? FINAL? (DEDUPLICATE (BY expr)?)?    # optimizeStatement
    | TRUNCATE TEMPORARY? TABLE? ifExists? qualifiedName onCluster?                                 # truncateStatement
    | RENAME (TABLE | DICTIONARY | DATABASE) qualifiedName TO qualifiedName (COMMA qualifiedName TO qualifiedName)* onCluster?  # renameStatement
    | EXCHANGE (TABLES | DICTIONARIES) qualifiedName AND qualifiedName onCluster?                    # exchangeStatement
    | EXISTS (TEMPORARY? TABLE | DATABASE | DICTIONARY | VIEW)? qualifiedName                        # existsStatement
    | DELETE FROM qualifiedName onCluster? WHERE expr                                               # deleteStatement
    | SYSTEM identifier+ qualifiedName?                                                             # systemStatement
    | KILL QUERY onCluster? WHERE expr (SYNC | identifier)?                                         # killStatement
    ;

// -- names ----------------------------------------------------------------------------------------------------
qualifiedName: identifier (DOT identifier)*;
identifierList: identifier (COMMA identifier)*;
alias: AS anyName | IDENTIFIER | BACKQUOTED_IDENTIFIER | QUOTED_IDENTIFIER;
// After AS or inside {name:Type} nothing else can follow, so even reserved words are names there.
anyName: identifier | SELECT | FROM | WHERE | PREWHERE | HAVING | QUALIFY | UNION | EXCEPT | INTERSECT | JOIN | SETTINGS | FORMAT | WINDOW;

// Keywords that may name a column, table, function or alias after AS. Clause keywords (SELECT, FROM, WHERE,
// PREWHERE, HAVING, QUALIFY, UNION, EXCEPT, INTERSECT, JOIN, SETTINGS, FORMAT, WINDOW) are reserved: a table
// called `from` must be backquoted, which lets `SELECT a FROM WHERE` fail where the mistake is. A bare alias
// (no AS) must be a plain or quoted identifier, never a keyword. Operator words (AND, OR, NOT, IN, IS, LIKE,
// ILIKE, BETWEEN, CASE, WHEN, THEN, ELSE, AS) are never names: `WHERE AND b` is an error, not a column `AND`.
identifier: IDENTIFIER | BACKQUOTED_IDENTIFIER | QUOTED_IDENTIFIER | keywordName;
keywordName
    : ADD | AFTER | ALIAS | ALL | ALTER | ANTI | ANY | APPLY | ARRAY | ASC | ASOF | AST | ATTACH | BOTH | BY
    | CAST | CHECK | CLEAR | CLUSTER | CODEC | COLLATE | COLUMN | COLUMNS | COMMENT | CONSTRAINT | CREATE
    | CROSS | CUBE | CURRENT | DATABASE | DATABASES | DATE | DAY | DEDUPLICATE | DEFAULT | DELETE | DESC
    | DESCRIBE | DETACH | DICTIONARIES | DICTIONARY | DISTINCT | DROP | END | ENGINE | EPHEMERAL | ESTIMATE
    | EXCHANGE | EXISTS | EXPLAIN | EXTRACT | FALSE | FETCH | FILL | FILTER | FINAL | FIRST | FOLLOWING | FOR | FREEZE
    | FULL | FUNCTION | GLOBAL | GRANULARITY | GROUP | GROUPING | HOUR | IF | INDEX | INF | INNER | INSERT
    | INTERVAL | INTO | KEY | KILL | LAST | LAYOUT | LEADING | LEFT | LIFETIME | LIMIT | LIVE | LOCAL
    | MATERIALIZE | MATERIALIZED | MILLISECOND | MINUTE | MODIFY | MONTH | MOVE | NAN | NULL | NULLS | OFFSET
    | ON | OPTIMIZE | ORDER | OUTER | OUTFILE | OVER | PARTITION | PASTE | PIPELINE | PLAN | POPULATE
    | PRECEDING | PRIMARY | PROCESSLIST | PROJECTION | QUARTER | QUERY | RANGE | RECURSIVE | REFRESH | RENAME
    | REPLACE | RIGHT | ROLLUP | ROW | ROWS | SAMPLE | SECOND | SEMI | SET | SETS | SHOW | SOURCE | STEP | SYNC
    | SYNTAX | SYSTEM | TABLE | TABLES | TEMPORARY | TIES | TIMESTAMP | TO | TOP | TOTALS | TRAILING | TREE
    | TRIM | TRUE | TRUNCATE | TTL | UNBOUNDED | UPDATE | USE | USING | VALUES | VIEW | WEEK | WITH | YEAR
    ;
