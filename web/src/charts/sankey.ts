import { use } from 'echarts/core'
import { SankeyChart } from 'echarts/charts'

use([SankeyChart])
