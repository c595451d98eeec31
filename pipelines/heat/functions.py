"""Knowledge about ClickHouse functions the passes need: which are aggregates, which read dictionaries, which
express funnel steps."""

from __future__ import annotations

AGGREGATES = frozenset(
    """count sum avg min max any anyLast anyHeavy argMin argMax uniq uniqExact uniqCombined uniqCombined64 uniqHLL12
    uniqTheta groupArray groupUniqArray groupArraySample groupBitmap groupBitAnd groupBitOr groupBitXor
    quantile quantiles quantileExact quantilesExact quantileTiming quantileTDigest quantilesTDigest median
    quantileDeterministic quantileBFloat16 stddevPop stddevSamp varPop varSamp covarPop covarSamp corr
    topK topKWeighted sumMap minMap maxMap sumWithOverflow avgWeighted entropy simpleLinearRegression
    windowFunnel retention sequenceMatch sequenceCount sequenceNextNode histogram first_value last_value
    skewPop skewSamp kurtPop kurtSamp deltaSum boundingRatio any_value groupConcat nothing singleValueOrNull
    sumKahan exponentialMovingAverage""".split()
)
# Suffixes ClickHouse appends to an aggregate name (countIf, uniqExactState, sumArrayIf, ...).
COMBINATORS = ("If", "Array", "Map", "State", "Merge", "MergeState", "OrNull", "OrDefault", "Distinct", "ForEach",
               "Resample", "SimpleState")
FUNNEL_FUNCTIONS = frozenset({"windowFunnel", "sequenceMatch", "sequenceCount", "retention", "sequenceNextNode"})
DICTIONARY_PREFIXES = ("dictGet", "dictHas", "dictIsIn")


def is_aggregate(name: str) -> bool:
    base = name
    for _ in range(3):  # at most a few stacked combinators: sumArrayIf, uniqExactIfState
        if base in AGGREGATES or base.lower() in ("count",):
            return True
        stripped = next((base[: -len(suffix)] for suffix in COMBINATORS if base.endswith(suffix) and len(base) > len(suffix)), None)
        if stripped is None:
            return False
        base = stripped
    return base in AGGREGATES


def reads_dictionary(name: str) -> bool:
    return name.startswith(DICTIONARY_PREFIXES)
