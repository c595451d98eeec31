import { use } from 'echarts/core'
import { BoxplotChart } from 'echarts/charts'

use([BoxplotChart])
