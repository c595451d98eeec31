// ECharts core with the canvas renderer and the components every chart uses. Chart types register themselves
// from their own modules (line.ts, bar.ts, boxplot.ts), loaded only by the pages whose charts need them.
import { init, use } from 'echarts/core'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

use([GridComponent, LegendComponent, TooltipComponent, CanvasRenderer])

export { init }
